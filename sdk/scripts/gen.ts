// Writes sdk/src/openapi.ts: the SDK's request and response types, generated from the server's
// OpenAPI document. Run after any change to a route's schema: `npm run gen:sdk`.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { generatedPath, generateTypes, openapiDocument } from './document.ts';

const doc = await openapiDocument();
const text = await generateTypes(doc);
let before = '';
try {
  before = readFileSync(generatedPath, 'utf8');
} catch {
  // First generation.
}
const where = relative(process.cwd(), generatedPath);
if (before === text) console.log(`${where} is up to date`);
else {
  writeFileSync(generatedPath, text);
  console.log(`wrote ${where}`);
}
