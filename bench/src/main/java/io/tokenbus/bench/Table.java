package io.tokenbus.bench;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the load tool's JSON lines (one per run, from bench/run.sh) into the side-by-side Markdown
 * table of docs/BENCHMARKS.md: tokenbus and nginx + nchan per scenario, with their ratios.
 */
public final class Table {

  private Table() {}

  public static void main(String[] args) throws IOException {
    List<JsonObject> all = read(Path.of(args[0]));
    List<JsonObject> runs =
        all.stream()
            .filter(r -> !r.containsKey("scenario") && !r.containsKey("owner_port"))
            .toList();
    System.out.print(matrix(runs));
    List<JsonObject> crossNode = all.stream().filter(r -> r.containsKey("owner_port")).toList();
    if (!crossNode.isEmpty()) {
      System.out.println();
      System.out.print(crossNode(crossNode, runs));
    }
    if (args.length > 1) {
      System.out.println();
      System.out.print(capacity(read(Path.of(args[1]))));
    }
    for (JsonObject probe : all.stream().filter(r -> r.containsKey("scenario")).toList()) {
      System.out.println();
      System.out.print(
          switch (probe.getString("scenario")) {
            case "ttft" ->
                String.format(
                    "**Time to first token** (%d sequential streaming chat completions, alternating with the same "
                        + "request straight to the upstream, after %d uncounted pairs): tokenbus p50 %.3f ms, p99 %.3f ms; direct p50 %.3f ms, "
                        + "p99 %.3f ms; **overhead p50 %.3f ms, p99 %.3f ms**.%n",
                    probe.getInteger("requests"),
                    probe.getInteger("warm_up", 20),
                    probe.getDouble("tokenbus_ms_p50"),
                    probe.getDouble("tokenbus_ms_p99"),
                    probe.getDouble("direct_ms_p50"),
                    probe.getDouble("direct_ms_p99"),
                    probe.getDouble("overhead_ms_p50"),
                    probe.getDouble("overhead_ms_p99"));
            case "idle" ->
                String.format(
                    "**Memory per idle subscriber** (%d SSE subscribers of a generation that has not produced yet): "
                        + "**%d bytes of live heap** (after a full GC: %d KB → %d KB) per connection; RSS %d KB → %d KB (%s).%n",
                    probe.getInteger("subscribers"),
                    probe.getLong("heap_bytes_per_subscriber"),
                    probe.getLong("heap_kb_before"),
                    probe.getLong("heap_kb_after"),
                    probe.getLong("rss_kb_before"),
                    probe.getLong("rss_kb_after"),
                    probe.getLong("rss_bytes_per_subscriber") >= 0
                        ? probe.getLong("rss_bytes_per_subscriber") + " bytes per connection"
                        : "no per-connection figure: the JVM gave back heap left from the earlier runs between the two readings; "
                            + "run the probe on a fresh hub for one");
            default -> "";
          });
    }
  }

  private static List<JsonObject> read(Path path) throws IOException {
    return Files.readAllLines(path).stream()
        .filter(l -> l.startsWith("{"))
        .map(JsonObject::new)
        .toList();
  }

  /** Served: every token delivered once, in order, with p99 under 100 ms. */
  static boolean served(JsonObject run) {
    return run.getLong("lost") == 0
        && run.getLong("duplicated") == 0
        && run.getLong("out_of_order") == 0
        && run.getLong("tokens_delivered").equals(run.getLong("tokens_expected"))
        && run.getDouble("latency_ms_p99") < 100;
  }

  private static String capacity(List<JsonObject> runs) {
    StringBuilder out =
        new StringBuilder(
            "**Capacity** (the largest N served at 50 tokens/s over SSE: every token delivered once, "
                + "in order, p99 < 100 ms): ");
    for (String target : List.of("tokenbus", "nchan")) {
      List<JsonObject> mine =
          runs.stream().filter(r -> target.equals(r.getString("target"))).toList();
      String ladder =
          String.join(
              ", ",
              mine.stream()
                  .map(
                      r ->
                          r.getInteger("subscribers")
                              + (served(r) ? " ✓" : " ✗")
                              + " (p99 "
                              + r.getDouble("latency_ms_p99")
                              + " ms)")
                  .toList());
      int best =
          mine.stream()
              .filter(Table::served)
              .mapToInt(r -> r.getInteger("subscribers"))
              .max()
              .orElse(0);
      out.append(target)
          .append(" **")
          .append(best == 0 ? "below the first step" : String.valueOf(best))
          .append("** [")
          .append(ladder)
          .append("]; ");
    }
    return out.append("\n").toString();
  }

  private static String matrix(List<JsonObject> runs) {
    Map<String, JsonObject[]> scenarios = new LinkedHashMap<>();
    for (JsonObject run : runs) {
      String key =
          run.getString("transport")
              + " "
              + run.getInteger("subscribers")
              + " "
              + run.getDouble("rate").intValue();
      JsonObject[] pair = scenarios.computeIfAbsent(key, k -> new JsonObject[2]);
      pair["nchan".equals(run.getString("target")) ? 1 : 0] = run;
    }
    StringBuilder out = new StringBuilder();
    out.append(
            "| Transport | Subscribers | Tokens/s offered | tokenbus delivered/s | nchan delivered/s | tokenbus p50 / p99 (ms) ")
        .append(
            "| nchan p50 / p99 (ms) | p99 ratio (nchan ÷ tokenbus) | tokenbus µs/token | nchan µs/token | CPU ratio (nchan ÷ tokenbus) ")
        .append(
            "| Lost/dup/ooo (tokenbus, nchan) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    scenarios.forEach(
        (key, pair) -> {
          JsonObject t = pair[0];
          JsonObject n = pair[1];
          JsonObject any = t != null ? t : n;
          out.append("| ")
              .append(any.getString("transport"))
              .append(" | ")
              .append(any.getInteger("subscribers"))
              .append(" | ")
              .append(Math.round(any.getDouble("rate") * any.getInteger("subscribers")))
              .append(" | ")
              .append(value(t, "tokens_per_second"))
              .append(" | ")
              .append(value(n, "tokens_per_second"))
              .append(" | ")
              .append(value(t, "latency_ms_p50"))
              .append(" / ")
              .append(value(t, "latency_ms_p99"))
              .append(" | ")
              .append(value(n, "latency_ms_p50"))
              .append(" / ")
              .append(value(n, "latency_ms_p99"))
              .append(" | ")
              .append(ratio(n, t, "latency_ms_p99"))
              .append(" | ")
              .append(value(t, "hub_cpu_us_per_token"))
              .append(" | ")
              .append(value(n, "hub_cpu_us_per_token"))
              .append(" | ")
              .append(ratio(n, t, "hub_cpu_us_per_token"))
              .append(" | ")
              .append(errors(t))
              .append(", ")
              .append(errors(n))
              .append(" |\n");
        });
    return out.toString();
  }

  /**
   * Runs across a cluster: published on one node, read on the others; beside each, the same
   * scenario on one node from the matrix. nchan has no cluster of its own, so no column for it.
   */
  private static String crossNode(List<JsonObject> runs, List<JsonObject> singleNode) {
    StringBuilder out =
        new StringBuilder(
            "**Cross-node delivery**: a three-node cluster on the same two cores; the generation runs "
                + "on one node and its N subscribers are split over the other two, so every token crosses the clustered event bus. CPU is "
                + "all three nodes together. nchan has no cluster (it needs Redis for that), so there is nothing to set beside it; the "
                + "single-node figures are tokenbus's own row from the table above.\n\n"
                + "| Transport | Subscribers | Tokens/s offered | Delivered/s | p50 / p99 (ms) | p99.9 / max (ms) | µs/token (3 nodes) "
                + "| Single node: p50 / p99 (ms), µs/token | Lost/dup/ooo |\n|---|---|---|---|---|---|---|---|---|\n");
    for (JsonObject run : runs) {
      JsonObject single =
          singleNode.stream()
              .filter(
                  r ->
                      "tokenbus".equals(r.getString("target"))
                          && r.getString("transport").equals(run.getString("transport"))
                          && r.getInteger("subscribers").equals(run.getInteger("subscribers"))
                          && r.getDouble("rate").equals(run.getDouble("rate")))
              .findFirst()
              .orElse(null);
      out.append("| ")
          .append(run.getString("transport"))
          .append(" | ")
          .append(run.getInteger("subscribers"))
          .append(" | ")
          .append(Math.round(run.getDouble("rate") * run.getInteger("subscribers")))
          .append(" | ")
          .append(value(run, "tokens_per_second"))
          .append(" | ")
          .append(value(run, "latency_ms_p50"))
          .append(" / ")
          .append(value(run, "latency_ms_p99"))
          .append(" | ")
          .append(value(run, "latency_ms_p999"))
          .append(" / ")
          .append(value(run, "latency_ms_max"))
          .append(" | ")
          .append(value(run, "hub_cpu_us_per_token"))
          .append(" | ")
          .append(
              single == null
                  ? "–"
                  : value(single, "latency_ms_p50")
                      + " / "
                      + value(single, "latency_ms_p99")
                      + ", "
                      + value(single, "hub_cpu_us_per_token"))
          .append(" | ")
          .append(errors(run))
          .append(" |\n");
    }
    return out.toString();
  }

  private static String value(JsonObject run, String key) {
    return run == null || run.getValue(key) == null ? "–" : String.valueOf(run.getValue(key));
  }

  private static String ratio(JsonObject numerator, JsonObject denominator, String key) {
    if (numerator == null
        || denominator == null
        || numerator.getValue(key) == null
        || denominator.getValue(key) == null
        || ((Number) denominator.getValue(key)).doubleValue() == 0) {
      return "–";
    }
    return String.format(
        "%.2f",
        ((Number) numerator.getValue(key)).doubleValue()
            / ((Number) denominator.getValue(key)).doubleValue());
  }

  private static String errors(JsonObject run) {
    return run == null
        ? "–"
        : run.getLong("lost") + "/" + run.getLong("duplicated") + "/" + run.getLong("out_of_order");
  }
}
