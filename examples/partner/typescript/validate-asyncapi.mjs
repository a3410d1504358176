// The AsyncAPI document checked by AsyncAPI's own parser (@asyncapi/parser: the spec's JSON Schema
// and its rules), not by our generator's tests: 0 errors, and every event schema is a channel.
import { Parser } from "@asyncapi/parser";
import { readFileSync, readdirSync } from "node:fs";

const path = "../../../contracts/asyncapi/roumu-events.v1.json";
const { document, diagnostics } = await new Parser().parse(readFileSync(path, "utf8"));
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of errors) console.error(`${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
const events = readdirSync("../../../contracts/events").filter((f) => f.startsWith("roumu.")).length;
const channels = document ? document.channels().length : 0;
console.log(`asyncapi: ${errors.length} errors, ${diagnostics.length - errors.length} other diagnostics, ` +
  `${channels} channels for ${events} event schemas`);
if (!document || errors.length > 0 || channels !== events) process.exit(1);
