// Subscribe with the reference graphql-sse client, unchanged, in the mode given.
// usage: node watch.mjs <url> <distinct|single> <repository> <count> [token] [query]
// (query: another subscription document, e.g. for a store endpoint; $repo is still sent)
// Prints one JSON line per received event payload; exits 0 after <count> events.
import { createClient } from 'graphql-sse';

const [url, mode, repository, count, token, custom] = process.argv.slice(2);
const client = createClient({
  url,
  singleConnection: mode === 'single',
  retryAttempts: 0,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});
const query = custom || `subscription W($repo: String!) {
  watchResources(repository: $repo) { type resourceVersion object }
}`;
let seen = 0;
const timer = setTimeout(() => { console.error('timed out'); process.exit(2); }, 30000);
try {
  for await (const result of client.iterate({ query, variables: { repo: repository } })) {
    console.log(JSON.stringify(result));
    seen += 1;
    if (seen >= Number(count)) break;
  }
} catch (err) {
  console.error('client error:', err && err.message ? err.message : err);
  process.exit(1);
}
clearTimeout(timer);
client.dispose();
process.exit(0);
