// What a TypeScript front-end writes against the types openapi-typescript generates from
// Bordin's /openapi.json (make test-clients generates them into generated/ and runs tsc).
// Nothing here runs in the test: it must type-check, so that a renamed field, operation or
// schema, or an untyped problem response, breaks the build of every client like this one.
import type { components, operations, paths } from "./generated/schema";

type Schemas = components["schemas"];
type JsonBody<Op extends keyof operations> = operations[Op] extends {
  requestBody: { content: { "application/json": infer Body } };
}
  ? Body
  : never;

export type ScoreRequest = JsonBody<"scoreResponses">;
export type ScoreResult = operations["scoreResponses"]["responses"][200]["content"]["application/json"];
export type Problem = operations["scoreResponses"]["responses"][422]["content"]["application/problem+json"];
export type AdministrationCreate = JsonBody<"recordAdministration">;
export type Recorded = operations["recordAdministration"]["responses"][201]["content"]["application/json"];
export type Trajectory = operations["getTrajectory"]["responses"][200]["content"]["application/json"];
export type EpisodeRuptures = operations["listEpisodeRuptures"]["responses"][200]["content"]["application/json"];
type TrajectoryQuery = NonNullable<operations["getTrajectory"]["parameters"]["query"]>;

// Every error of every operation is the one Problem schema.
const sameProblem: Schemas["Problem"] = {} as operations["recordAdministration"]["responses"][409]["content"]["application/problem+json"];
void sameProblem;
// The paths are part of the contract too.
type ScorePost = paths["/v1/scores"]["post"];
const scoreOperation: ScorePost = {} as operations["scoreResponses"];
void scoreOperation;

// @ts-expect-error a rater is client, therapist or observer: the enum is a named, closed type
const patient: Schemas["Rater"] = "patient";
void patient;

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
  }

  /** Offending item ids with their codes, e.g. {"1": "out_of_range"}. */
  items(): Record<string, string> {
    const named: Record<string, string> = {};
    for (const error of this.problem.errors ?? []) {
      named[String(error.loc[error.loc.length - 1])] = error.code;
    }
    return named;
  }
}

async function send<Result>(
  base: string,
  key: string,
  path: string,
  init: { method: "GET" | "POST"; body?: unknown; headers?: Record<string, string> },
): Promise<Result> {
  const response = await fetch(base + path, {
    method: init.method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  if (!response.ok) throw new ProblemError((await response.json()) as Problem);
  return (await response.json()) as Result;
}

export async function scoreWaiSr(base: string, key: string): Promise<number | null | undefined> {
  const request: ScoreRequest = {
    instrument: "wai-sr",
    responses: { "1": 4, "2": 5, "3": 4, "4": 3, "5": 5, "6": 4, "7": 4, "8": 3, "9": 5, "10": 4, "11": 3, "12": null },
  };
  try {
    const result = await send<ScoreResult>(base, key, "/v1/scores", { method: "POST", body: request });
    const goal: Schemas["ScaleScore"] | undefined = result.scales["goal"];
    const reason: Schemas["UnscoredReason"] | null | undefined = goal?.reason;
    if (reason === "too_many_missing") return null;
    return result.scales.total?.pomp;
  } catch (error) {
    if (error instanceof ProblemError && error.problem.status === 422) {
      const items = error.items();
      const requestId: string | null | undefined = error.problem.request_id;
      console.warn(`invalid answers ${JSON.stringify(items)} (request ${requestId ?? "?"})`);
    }
    throw error;
  }
}

export async function recordSession(
  base: string,
  key: string,
  episodeId: string,
  session: number,
): Promise<Schemas["EpisodeRuptureFlag"][]> {
  const body: AdministrationCreate = {
    instrument: "srs",
    rater: "client",
    session,
    administered_at: new Date().toISOString(),
    responses: { "1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5 },
  };
  const recorded = await send<Recorded>(base, key, `/v1/episodes/${episodeId}/administrations`, {
    method: "POST",
    body,
    headers: { "Idempotency-Key": `srs-${episodeId}-${session}` },
  });
  // A key that also reads records gets the stored administration; a write-only one (submit,
  // or records:write alone), an acknowledgement.
  return "ruptures" in recorded ? recorded.ruptures : [];
}

export async function watchAlliance(base: string, key: string, episodeId: string): Promise<string[]> {
  const query: TrajectoryQuery = { instrument: "srs", rater: "client" };
  const trajectory = await send<Trajectory>(
    base, key, `/v1/episodes/${episodeId}/trajectory?instrument=${query.instrument}&rater=${query.rater ?? "client"}`,
    { method: "GET" },
  );
  const totals = trajectory.points.map((point) => point.scales["total"]?.pomp ?? null);
  const flags = await send<EpisodeRuptures>(base, key, `/v1/episodes/${episodeId}/ruptures`, { method: "GET" });
  return flags.items.map((flag) => {
    const state: Schemas["RepairState"] | null | undefined = flag.state;
    const repairedAt = flag.repaired_at ? ` (repaired at session ${flag.repaired_at.session})` : "";
    const steps = (flag.guidance ?? []).map((entry) => `${entry.text} (${entry.support_label})`).join(" ");
    return `${flag.rule} on ${flag.scale}, session ${flag.session}: ${state ?? "new"}${repairedAt}; totals ${totals.join(", ")}. ${steps}`;
  });
}
