#!/usr/bin/perl
# page_csp.pl - the Content-Security-Policy of server/page.html (built into
# the server by the Makefile, build/gen/page_data.c): nothing from
# elsewhere, and only the page's own inline <script> and <style> blocks,
# allowed by their SHA-256 hashes (CSP Level 2), so an injected script or
# style would not run. Usage: page_csp.pl page.html
use strict;
use warnings;
use Digest::SHA qw(sha256_base64);

local $/;
my $html = <>;
my %hashes = (script => [], style => []);
while ($html =~ /<(script|style)>(.*?)<\/\1>/gs) {
    my $b64 = sha256_base64($2);
    $b64 .= '=' while length($b64) % 4;
    push @{ $hashes{$1} }, "'sha256-$b64'";
}
die "page_csp.pl: no <script> in the page\n" unless @{ $hashes{script} };
print join('; ',
    "default-src 'none'",
    "script-src @{ $hashes{script} }",
    "style-src @{ $hashes{style} }",
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'");
