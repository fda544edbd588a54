package io.tokenbus.provider;

import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The built-in model: emits {@link MockText} at a steady rate, {@code max_tokens} tokens long
 * (finish reason {@code length}) or the configured default (finish reason {@code stop}). Prompt
 * tokens are counted as the words of the messages.
 */
final class MockProvider implements Provider {

  private final Vertx vertx;
  private final TokenbusConfig.Mock config;

  MockProvider(Vertx vertx, TokenbusConfig.Mock config) {
    this.vertx = vertx;
    this.config = config;
  }

  @Override
  public String name() {
    return "mock";
  }

  @Override
  public boolean continuesExactly() {
    return true;
  }

  /** The mock is deterministic (one delta per token), so it continues exactly where it stopped. */
  @Override
  public UpstreamCall start(
      GenerationRequest request, String model, Continuation from, UpstreamListener listener) {
    long deltas = from == null ? 0 : from.deltas();
    int length = request.maxTokens() != null ? request.maxTokens() : config.defaultMaxTokens();
    String finishReason = request.maxTokens() != null ? "length" : "stop";
    // A request may slow the mock down, but not below the floor: a client could otherwise hold a
    // generation slot for days with a few tokens.
    double rate =
        request.mockTokensPerSecond() != null
            ? Math.max(request.mockTokensPerSecond(), config.minTokensPerSecond())
            : config.tokensPerSecond();
    return new Run(length, (int) deltas, finishReason, rate, promptWords(request.body()), listener)
        .start();
  }

  private static long promptWords(JsonObject body) {
    long words = 0;
    for (Object message : body.getJsonArray("messages", new JsonArray())) {
      if (message instanceof JsonObject m
          && m.getValue("content") instanceof String content
          && !content.isBlank()) {
        words += content.trim().split("\\s+").length;
      }
    }
    return words;
  }

  /** One mock generation: a timer that emits every token that is due by now. */
  private final class Run implements UpstreamCall {
    private final int length;
    private final String finishReason;
    private final double rate;
    private final long promptTokens;
    private final UpstreamListener listener;
    private final long startNanos = System.nanoTime();
    private final int startAt;
    private long timer;
    private int emitted;

    Run(
        int length,
        int startAt,
        String finishReason,
        double rate,
        long promptTokens,
        UpstreamListener listener) {
      this.length = length;
      this.startAt = startAt;
      this.emitted = startAt;
      this.finishReason = finishReason;
      this.rate = rate;
      this.promptTokens = promptTokens;
      this.listener = listener;
    }

    Run start() {
      long periodMs = Math.max(1, (long) (1000 / rate));
      timer = vertx.setPeriodic(periodMs, periodMs, id -> tick());
      return this;
    }

    private void tick() {
      double elapsedSeconds = (System.nanoTime() - startNanos) / 1e9;
      long due = Math.min(length, startAt + (long) (elapsedSeconds * rate) + 1);
      while (emitted < due) {
        listener.onDelta(MockText.token(emitted++), null);
      }
      if (emitted >= length) {
        vertx.cancelTimer(timer);
        listener.onFinish(finishReason, usageSoFar());
      }
    }

    @Override
    public void cancel() {
      vertx.cancelTimer(timer);
    }

    @Override
    public Usage usageSoFar() {
      return Usage.of(promptTokens, emitted - startAt);
    }
  }
}
