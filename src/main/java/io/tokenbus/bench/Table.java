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

  private Table() {
  }

  public static void main(String[] args) throws IOException {
    List<JsonObject> runs = Files.readAllLines(Path.of(args[0])).stream().filter(l -> l.startsWith("{")).map(JsonObject::new).toList();
    Map<String, JsonObject[]> scenarios = new LinkedHashMap<>();
    for (JsonObject run : runs) {
      String key = run.getString("transport") + " " + run.getInteger("subscribers") + " " + run.getDouble("rate").intValue();
      JsonObject[] pair = scenarios.computeIfAbsent(key, k -> new JsonObject[2]);
      pair["nchan".equals(run.getString("target")) ? 1 : 0] = run;
    }
    StringBuilder out = new StringBuilder();
    out.append("| Transport | Subscribers | Tokens/s offered | tokenbus delivered/s | nchan delivered/s | tokenbus p50 / p99 (ms) ")
        .append("| nchan p50 / p99 (ms) | p99 ratio (nchan ÷ tokenbus) | tokenbus µs/token | nchan µs/token | CPU ratio (nchan ÷ tokenbus) ")
        .append("| Lost/dup/ooo (tokenbus, nchan) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    scenarios.forEach((key, pair) -> {
      JsonObject t = pair[0];
      JsonObject n = pair[1];
      JsonObject any = t != null ? t : n;
      out.append("| ").append(any.getString("transport")).append(" | ").append(any.getInteger("subscribers")).append(" | ")
          .append(Math.round(any.getDouble("rate") * any.getInteger("subscribers"))).append(" | ")
          .append(value(t, "tokens_per_second")).append(" | ").append(value(n, "tokens_per_second")).append(" | ")
          .append(value(t, "latency_ms_p50")).append(" / ").append(value(t, "latency_ms_p99")).append(" | ")
          .append(value(n, "latency_ms_p50")).append(" / ").append(value(n, "latency_ms_p99")).append(" | ")
          .append(ratio(n, t, "latency_ms_p99")).append(" | ")
          .append(value(t, "hub_cpu_us_per_token")).append(" | ").append(value(n, "hub_cpu_us_per_token")).append(" | ")
          .append(ratio(n, t, "hub_cpu_us_per_token")).append(" | ")
          .append(errors(t)).append(", ").append(errors(n)).append(" |\n");
    });
    System.out.print(out);
  }

  private static String value(JsonObject run, String key) {
    return run == null || run.getValue(key) == null ? "–" : String.valueOf(run.getValue(key));
  }

  private static String ratio(JsonObject numerator, JsonObject denominator, String key) {
    if (numerator == null || denominator == null || numerator.getValue(key) == null || denominator.getValue(key) == null
        || ((Number) denominator.getValue(key)).doubleValue() == 0) {
      return "–";
    }
    return String.format("%.2f", ((Number) numerator.getValue(key)).doubleValue() / ((Number) denominator.getValue(key)).doubleValue());
  }

  private static String errors(JsonObject run) {
    return run == null ? "–" : run.getLong("lost") + "/" + run.getLong("duplicated") + "/" + run.getLong("out_of_order");
  }
}
