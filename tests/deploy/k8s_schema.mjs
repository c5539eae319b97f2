#!/usr/bin/env node
// Validates every document of the given Kubernetes manifests against the
// Kubernetes OpenAPI JSON schemas that the kubernetes-models package (pinned
// in tools/package.json) ships, offline. Types, enums, required fields and
// formats are checked; unknown fields are not (the upstream schemas allow
// them), which k8s_check.py's field checks cover for the fields that matter.
// Usage: node k8s_schema.mjs FILE.yaml...
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tools = path.join(here, "tools", "node_modules");
const YAML = (await import(path.join(tools, "yaml", "dist", "index.js"))).default;

let failed = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) {
      console.error(`FAIL ${file}: YAML error: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const { apiVersion, kind } = obj;
    if (apiVersion === "kustomize.config.k8s.io/v1beta1") continue; // not a cluster object
    let mod;
    try {
      mod = await import(path.join(tools, "kubernetes-models", apiVersion, "index.js"));
    } catch (e) {
      console.error(`FAIL ${file}: no schema for apiVersion ${apiVersion}`);
      failed++;
      continue;
    }
    const Model = mod[kind];
    if (!Model) {
      console.error(`FAIL ${file}: no schema for ${apiVersion} ${kind}`);
      failed++;
      continue;
    }
    try {
      new Model(obj).validate();
      checked++;
      console.log(`ok   ${file}: ${apiVersion} ${kind} ${obj.metadata?.name}`);
    } catch (e) {
      console.error(`FAIL ${file}: ${apiVersion} ${kind}: ${e.message}`);
      failed++;
    }
  }
}
console.log(`k8s schema: ${checked} documents valid, ${failed} invalid`);
process.exit(failed || checked === 0 ? 1 : 0);
