// The MCP scenario (tests/mcp/scenario.py) run with the official TypeScript SDK against /mcp:
// list the tools, call every one, check the tool errors, a wrong key and another tenant.
// Prints one JSON line of what it saw; tests/mcp/test_typescript.py checks it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

type Answer = Record<string, unknown> & { results?: { memory: Memory; event?: string }[] };
type Memory = { id: string; text: string; user_id: string | null };

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`scenario failed: ${what}`);
}

async function connect(key: string): Promise<Client> {
  const client = new Client({ name: "memory-service-ts-scenario", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${process.env.BASE_URL}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  const [first] = result.content as { type: string; text: string }[];
  return { isError: result.isError === true, text: first?.text ?? "", data: result.structuredContent as Answer };
}

async function answer(client: Client, name: string, args: Record<string, unknown>): Promise<Answer> {
  const result = await call(client, name, args);
  check(!result.isError, `${name} succeeds: ${result.text}`);
  return result.data;
}

async function refusal(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await call(client, name, args);
  check(result.isError, `${name} is refused as a tool error`);
  return result.text;
}

const user = "ts-user";
const client = await connect(process.env.API_KEY ?? "");
const tools = (await client.listTools()).tools;
const undescribed = tools.flatMap((tool) =>
  Object.entries((tool.inputSchema.properties ?? {}) as Record<string, { description?: string }>)
    .filter(([, field]) => !field.description)
    .map(([name]) => `${tool.name}.${name}`),
);

const added = await answer(client, "add_memory", {
  text: "Tom is allergic to shellfish",
  user_id: user,
  metadata: { kind: "health" },
  infer: false,
});
const allergy = added.results?.[0]?.memory;
check(allergy !== undefined, "add_memory answers the memory");
const told = await answer(client, "add_memory", {
  messages: [
    { role: "user", content: "I play the cello on Sundays" },
    { role: "assistant", content: "How lovely!" },
  ],
  user_id: user,
});
const cello = told.results?.[0]?.memory;
check(cello !== undefined && told.results?.length === 1, "only the user's turn is stored");

const found = await answer(client, "search_memories", { query: "What can't Tom eat?", user_id: user, limit: 1 });
const context = await call(client, "get_context", { query: "Which food is dangerous for Tom?", user_id: user });
const listed = await answer(client, "list_memories", { user_id: user });
const got = await answer(client, "get_memory", { memory_id: allergy.id });
const updated = await answer(client, "update_memory", {
  memory_id: allergy.id,
  text: "Tom is allergic to shellfish and walnuts",
});
const deleted = await answer(client, "delete_memory", { memory_id: cello.id });
const gone = await refusal(client, "get_memory", { memory_id: cello.id });
const badType = await refusal(client, "search_memories", { query: 5, user_id: user });
const both = await refusal(client, "add_memory", { text: "x", messages: [], user_id: user });
await client.close();

let wrongKey = "connected";
try {
  await (await connect("msk_wrong")).close();
} catch (error) {
  wrongKey = String(error);
}

const other = await connect(process.env.OTHER_API_KEY ?? "");
const otherSearch = await answer(other, "search_memories", { query: "allergy", user_id: user });
const otherGet = await refusal(other, "get_memory", { memory_id: allergy.id });
await other.close();

console.log(
  JSON.stringify({
    tools: tools.map((tool) => tool.name).sort(),
    undescribed,
    allergyId: allergy.id,
    celloId: cello.id,
    foundIds: found.results?.map((hit) => hit.memory.id),
    contextText: context.text,
    listedIds: (listed.memories as Memory[]).map((memory) => memory.id),
    gotText: got.text,
    updatedText: updated.text,
    deleted,
    gone,
    badType,
    both,
    wrongKey,
    otherResults: otherSearch.results,
    otherGet,
  }),
);
