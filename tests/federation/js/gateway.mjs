// Compose GitStore's store endpoint (a Federation v2 subgraph) with a small reviews subgraph
// and run queries through @apollo/gateway. Prints one JSON line:
//   {"composed": false, "errors": [...]}                        composition failed
//   {"composed": true, "supergraph": "...", "results": {...}}   the query results
// Usage: node gateway.mjs <gitstore subgraph url> <token or ""> <reviews JSON> <queries JSON>
// --conflict (5th argument): the reviews subgraph also defines Product.title, which must not
// compose (GitStore's title is not @shareable): shows the harness can fail.
// reviews JSON: {"<product global id>": [{"stars": 5, "body": "..."}], ...}
// queries JSON: {"<label>": "<query text>", ...}
import { composeServices } from "@apollo/composition";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const [url, token, reviewsJson, queriesJson, flag] = process.argv.slice(2);
const reviews = JSON.parse(reviewsJson);
const queries = JSON.parse(queriesJson);
const auth = token ? { authorization: `Bearer ${token}` } : {};

const REVIEWS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Product @key(fields: "id") {
    id: ID!
    reviews: [Review!]!${flag === "--conflict" ? "\n    title: String" : ""}
  }
  type Review {
    stars: Int!
    body: String!
    product: Product!
  }
  type Query {
    topReviews: [Review!]!
  }
`;

function reviewsOf(id) {
  return (reviews[id] || []).map((r) => ({ ...r, product: { id } }));
}

const reviewsSchema = buildSubgraphSchema({
  typeDefs: parse(REVIEWS_SDL),
  resolvers: {
    Product: {
      __resolveReference: (ref) => ({ id: ref.id }),
      reviews: (product) => reviewsOf(product.id),
    },
    Review: { product: (review) => ({ __typename: "Product", id: review.product.id }) },
    Query: {
      topReviews: () =>
        Object.keys(reviews)
          .flatMap(reviewsOf)
          .sort((a, b) => b.stars - a.stars),
    },
  },
});

async function main() {
  const sdlResponse = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const sdlBody = await sdlResponse.json();
  if (!sdlBody.data) throw new Error(`_service failed: ${JSON.stringify(sdlBody)}`);
  const gitstoreSdl = sdlBody.data._service.sdl;

  const reviewsServer = new ApolloServer({ schema: reviewsSchema });
  const { url: reviewsUrl } = await startStandaloneServer(reviewsServer, {
    listen: { host: "127.0.0.1", port: 0 },
  });
  try {
    const composed = composeServices([
      { name: "gitstore", url, typeDefs: parse(gitstoreSdl) },
      { name: "reviews", url: reviewsUrl, typeDefs: parse(REVIEWS_SDL) },
    ]);
    if (composed.errors) {
      console.log(JSON.stringify({ composed: false, errors: composed.errors.map((e) => e.message) }));
      return;
    }
    const gateway = new ApolloGateway({
      supergraphSdl: composed.supergraphSdl,
      buildService: ({ url: serviceUrl }) =>
        new RemoteGraphQLDataSource({
          url: serviceUrl,
          willSendRequest({ request }) {
            for (const [k, v] of Object.entries(auth)) request.http.headers.set(k, v);
          },
        }),
    });
    const server = new ApolloServer({ gateway });
    await server.start();
    const results = {};
    try {
      for (const [label, query] of Object.entries(queries)) {
        const response = await server.executeOperation({ query });
        results[label] = response.body.singleResult;
      }
    } finally {
      await server.stop();
    }
    console.log(JSON.stringify({ composed: true, supergraph: composed.supergraphSdl, results }));
  } finally {
    await reviewsServer.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
