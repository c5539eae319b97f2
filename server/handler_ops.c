/* handler_ops.c - the operational endpoints: /healthz, /readyz, /metrics
 * and /openapi.yaml; and the page at / (server/page.html).
 *
 * Liveness is unconditional; readiness turns 503 the moment a drain starts
 * (new requests are refused earlier, in http.c, so this is belt and
 * braces); metrics render the counters plus the cache's numbers; the
 * OpenAPI document and the page are the ones embedded at build time, the
 * page under its own Content-Security-Policy (server/page_csp.pl). */
#include "server/http.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/page.h"

static const char HEALTHY[] = "{\"status\":\"ok\"}\n";
static const char READY[] = "{\"status\":\"ready\"}\n";
static const char DRAINING[] = "{\"status\":\"draining\"}\n";

static enum MHD_Result readyz(bgs_request *req)
{
    if (atomic_load(&req->srv->draining))
        return bgs_respond_static(req, 503, "application/json", DRAINING,
                                  sizeof DRAINING - 1);
    return bgs_respond_static(req, 200, "application/json", READY,
                              sizeof READY - 1);
}

static enum MHD_Result page(bgs_request *req)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        bgs_page_html_len, (void *)bgs_page_html, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Content-Security-Policy", bgs_page_csp);
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return bgs_respond(req, 200, resp, bgs_page_html_len);
}

static enum MHD_Result metrics(bgs_request *req)
{
    bgs_cache_stats cs;
    size_t len = 0;
    bgs_cache_stats_get(req->srv->cache, &cs);
    char *text = bgs_metrics_render(req->srv->metrics, &cs, &len);
    if (text == NULL)
        return MHD_NO;
    return bgs_respond_owned(
        req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

enum MHD_Result bgs_handle_ops(bgs_request *req)
{
    switch (req->route.id) {
    case BGAPI_ROUTE_HEALTHZ:
        return bgs_respond_static(req, 200, "application/json", HEALTHY,
                                  sizeof HEALTHY - 1);
    case BGAPI_ROUTE_READYZ:
        return readyz(req);
    case BGAPI_ROUTE_METRICS:
        return metrics(req);
    case BGAPI_ROUTE_OPENAPI:
        return bgs_respond_static(req, 200, "application/yaml",
                                  bgs_openapi_yaml, bgs_openapi_yaml_len);
    case BGAPI_ROUTE_PAGE:
        return page(req);
    default:
        return MHD_NO;
    }
}
