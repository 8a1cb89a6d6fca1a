// The scenario a TypeScript application runs with the client generated from openapi.yaml
// (schema.d.ts, written by openapi-typescript at test time) and openapi-fetch.
// Prints one JSON line of what it saw; tests/clients/test_generated_typescript.py checks it.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`scenario failed: ${what}`);
}

const client = createClient<paths>({
  baseUrl: process.env.BASE_URL,
  headers: { Authorization: `Bearer ${process.env.API_KEY}` },
});

async function remember(text: string, category: string): Promise<string> {
  const { data, response } = await client.POST("/v1/memories", {
    body: { text, user_id: "ts-user", infer: false, metadata: { category } },
  });
  check(response.status === 201 && data !== undefined && "results" in data, "add answers 201");
  const [first] = data.results;
  check(first !== undefined && first.event === "ADD", "the text was added");
  return first.memory.id;
}

const allergyId = await remember("Tom is allergic to shellfish", "health");
await remember("Tom plays the cello", "music");

const found = await client.POST("/v1/search", {
  body: { query: "What should Tom not eat?", user_id: "ts-user", filters: { category: { in: ["health"] } } },
});
check(found.data !== undefined, "search answers");
const searchIds = found.data.results.map((hit) => hit.memory.id);

const updated = await client.PATCH("/v1/memories/{memory_id}", {
  params: { path: { memory_id: allergyId } },
  body: { text: "Tom is allergic to shellfish and walnuts" },
});
check(updated.data !== undefined, "update answers");

const history = await client.GET("/v1/memories/{memory_id}/history", {
  params: { path: { memory_id: allergyId } },
});
check(history.data !== undefined, "history answers");

const context = await client.POST("/v1/context", {
  body: {
    messages: [
      { role: "assistant", content: "What shall we cook?" },
      { role: "user", content: "Something Tom can eat safely" },
    ],
    user_id: "ts-user",
    max_tokens: 100,
  },
});
check(context.data !== undefined, "context answers");
const tinyBudget = await client.POST("/v1/context", {
  body: { query: "Tom", user_id: "ts-user", max_tokens: 5 },
});
check(tinyBudget.data !== undefined, "a budget below one line answers");

const deleted = await client.DELETE("/v1/memories/{memory_id}", {
  params: { path: { memory_id: allergyId } },
});

const missing = await client.GET("/v1/memories/{memory_id}", {
  params: { path: { memory_id: allergyId } },
});
const problem: Problem | undefined = missing.error;
check(problem !== undefined, "a deleted memory is an error");

console.log(
  JSON.stringify({
    allergyId,
    searchIds,
    updatedText: updated.data.text,
    historyEvents: history.data.events.map((event) => event.event),
    contextLines: context.data.context.split("\n"),
    contextIds: context.data.memories.map((used) => used.memory.id),
    contextTokens: context.data.tokens,
    contextTokenizer: context.data.tokenizer,
    contextQuery: context.data.query,
    tinyContext: tinyBudget.data.context,
    tinyOmitted: tinyBudget.data.omitted,
    deleteStatus: deleted.response.status,
    errorStatus: missing.response.status,
    errorContentType: missing.response.headers.get("content-type"),
    problemStatus: problem.status,
    problemDetail: problem.detail,
  }),
);
