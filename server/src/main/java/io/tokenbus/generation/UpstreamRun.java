package io.tokenbus.generation;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.metrics.Metrics;
import io.tokenbus.provider.Continuation;
import io.tokenbus.provider.UpstreamCall;
import io.tokenbus.provider.UpstreamFailure;
import io.tokenbus.provider.UpstreamListener;
import io.tokenbus.provider.Upstreams;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.OpenCircuitException;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pulls one generation's answer through as many upstream attempts as it takes, on the owner's event
 * loop. It is where every provider gets the same resilience:
 *
 * <ul>
 *   <li>timeouts: first token, idle gap, whole generation (the connect timeout is the client's);
 *   <li>before anything was produced, retries with exponential backoff and full jitter, honouring
 *       {@code Retry-After}; then the next model of the fallback chain;
 *   <li>after text was produced, the provider's recovery strategy: continue from the partial text
 *       (trimming what the continuation repeats), restart (a {@code reset} first), or fail;
 *   <li>a circuit breaker per provider and model, consulted before each attempt; only the
 *       upstream's own failures count (never what the client's request made it refuse).
 * </ul>
 *
 * Every retry, recovery and fallback is reported ({@link Sink#recovery}) so that it shows in the
 * log and in the generation's status. Which of them follows a failure is {@link NextStep}'s choice.
 */
final class UpstreamRun {

  private static final Logger LOG = LoggerFactory.getLogger(UpstreamRun.class);

  /** Where the answer goes: the generation's run, which numbers, logs and publishes it. */
  interface Sink {
    void delta(String text, String chunk);

    void toolCall(String chunk);

    void reset(Failure cause);

    void recovery(String kind, Failure cause, JsonObject details);

    void finish(String finishReason, Usage usage);

    void fail(Failure failure, Usage usage);
  }

  private final Vertx vertx;
  private final String id;
  private final GenerationRequest request;
  private final List<Upstreams.Target> chain;
  private final Sink sink;
  private final Metrics metrics;
  private final StringBuilder text = new StringBuilder();
  private final long deadlineNanos;

  /**
   * The most deltas the answer may have, all attempts together (0: no cap): the request's {@code
   * maxTokens}, which its tenant's limits may have lowered below what its body asks. An
   * OpenAI-compatible upstream gets the client's own body, and a continuation asks its tokens
   * again, so tokenbus holds the cap itself: a delta past it ends the answer instead (a delta holds
   * at least one token, so an upstream that keeps its own cap never reaches this one).
   */
  private final int cap;

  private long deltas;
  private boolean toolCalls;

  /**
   * Output without text since the last reset (reasoning, logprobs alone): it counts as output, but
   * cannot be continued from.
   */
  private boolean otherOutput;

  private int targetIndex;
  private int attemptsOnTarget;
  private int attempts;
  private int recoveries;
  private Usage usageDone;
  private Attempt current;
  private long pendingTimer = -1;
  private boolean ended;

  /**
   * @param from where a generation taken over from another node stands, or null for a new one
   */
  UpstreamRun(
      Vertx vertx,
      String id,
      GenerationRequest request,
      List<Upstreams.Target> chain,
      Progress from,
      Sink sink,
      Metrics metrics) {
    this.vertx = vertx;
    this.metrics = metrics;
    this.id = id;
    this.request = request;
    this.chain = chain;
    this.sink = sink;
    this.deadlineNanos =
        System.nanoTime() + chain.get(0).policy().timeouts().totalMs() * 1_000_000L;
    this.cap = request.maxTokens() != null ? request.maxTokens() : 0;
    this.usageDone = from == null ? Usage.of(0, 0) : Usage.of(0, from.deltas());
    if (from != null) {
      text.append(from.text());
      deltas = from.deltas();
      toolCalls = from.toolCalls();
      otherOutput = from.otherOutput();
    }
  }

  /**
   * How often {@link #checkTimeouts} must run: a quarter of the shortest token timeout, 10 to 250
   * ms. The generation's run ticks it, on the timer it has anyway.
   */
  long tickMillis() {
    TokenbusConfig.Timeouts primary = chain.get(0).policy().timeouts();
    return Math.max(10, Math.min(250, Math.min(primary.firstTokenMs(), primary.idleMs()) / 4));
  }

  void start() {
    if (hasOutput()) {
      // Taken over from a node that left: its stream broke like any other (retryable, after output,
      // no wait asked).
      next(
          target(),
          Failure.upstream("The node running this generation left the cluster"),
          true,
          -1,
          false,
          true);
      return;
    }
    attempt();
  }

  /**
   * Stops for good (a cancel, or a release): closes the upstream connection; nothing is reported
   * after.
   */
  void cancel() {
    if (ended) {
      return;
    }
    ended = true;
    stopTimers();
    if (current != null) {
      current.settle(true);
      if (current.call != null) {
        usageDone = usageDone.plus(current.call.usageSoFar());
        current.call.cancel();
        current.counted("cancelled");
      }
      current = null;
    }
  }

  /** The usage of every attempt so far: what the upstreams actually produced (and billed). */
  Usage usageSoFar() {
    return current == null || current.call == null
        ? usageDone
        : usageDone.plus(current.call.usageSoFar());
  }

  private Upstreams.Target target() {
    return chain.get(targetIndex);
  }

  private void attempt() {
    pendingTimer = -1;
    if (ended) {
      return;
    }
    Upstreams.Target target = target();
    attempts++;
    attemptsOnTarget++;
    Attempt attempt = new Attempt(target);
    current = attempt;
    CircuitBreaker breaker = target.breaker();
    if (breaker == null) {
      attempt.begin();
      return;
    }
    breaker
        .<Void>execute(
            promise -> {
              attempt.breakerPromise = promise;
              attempt.begin();
            })
        .onFailure(
            e -> {
              if (e instanceof OpenCircuitException
                  && attempt.breakerPromise == null
                  && current == attempt) {
                attempt.failOnOpenCircuit(
                    UpstreamFailure.broken(
                        new Failure(
                            503,
                            "upstream_error",
                            "circuit_open",
                            "The circuit of model "
                                + target.model()
                                + " at provider "
                                + target.provider().name()
                                + " is open after repeated failures; it is not called for now")));
              }
            });
  }

  /** Ends an attempt past its first-token or idle timeout, or the generation past its total one. */
  void checkTimeouts() {
    if (ended) {
      return;
    }
    Attempt attempt = current;
    long now = System.nanoTime();
    if (now - deadlineNanos > 0) {
      int totalMs = chain.get(0).policy().timeouts().totalMs();
      LOG.warn("Generation {}: total timeout of {} ms reached", id, totalMs);
      Usage usage = usageSoFar();
      cancel();
      sink.fail(
          new Failure(
              504,
              "upstream_error",
              "generation_timeout",
              "The generation took longer than "
                  + totalMs
                  + " ms (timeouts.total-ms); the text so far is kept"),
          usage);
      return;
    }
    if (attempt == null || attempt.call == null) {
      return;
    }
    TokenbusConfig.Timeouts timeouts = attempt.target.policy().timeouts();
    if (!attempt.produced
        && now - attempt.lastActivityNanos > timeouts.firstTokenMs() * 1_000_000L) {
      attempt.timedOut(
          "The upstream sent no token within "
              + timeouts.firstTokenMs()
              + " ms (timeouts.first-token-ms)");
    } else if (attempt.produced
        && now - attempt.lastActivityNanos > timeouts.idleMs() * 1_000_000L) {
      attempt.timedOut(
          "The upstream sent nothing for "
              + timeouts.idleMs()
              + " ms mid-answer (timeouts.idle-ms)");
    }
  }

  /** Carries out what follows a failed attempt ({@link NextStep} decides). */
  private void onFailure(Attempt attempt, UpstreamFailure failure) {
    attempt.counted(failure.failure().code());
    usageDone = usageDone.plus(attempt.call == null ? Usage.of(0, 0) : attempt.call.usageSoFar());
    current = null;
    next(
        attempt.target,
        failure.failure(),
        failure.retryable(),
        failure.retryAfterMs(),
        attempt.circuitOpen,
        attempt.produced && hasOutput());
  }

  private boolean hasOutput() {
    return !text.isEmpty() || toolCalls || otherOutput;
  }

  private void next(
      Upstreams.Target failed,
      Failure cause,
      boolean retryable,
      long retryAfterMs,
      boolean circuitOpen,
      boolean afterOutput) {
    NextStep step =
        NextStep.after(
            new NextStep.Failed(
                cause,
                retryable,
                retryAfterMs,
                circuitOpen,
                afterOutput,
                toolCalls,
                !text.isEmpty(),
                attemptsOnTarget,
                recoveries,
                targetIndex,
                chain.size(),
                failed.policy().retry(),
                failed.policy().recovery()),
            ceiling -> ThreadLocalRandom.current().nextLong(ceiling + 1));
    if (step instanceof NextStep.Retry retry) {
      retry(failed, cause, retry.delayMs());
    } else if (step instanceof NextStep.FallBack fallBack) {
      fallBack(failed, cause, fallBack.targetIndex());
    } else if (step instanceof NextStep.Recover recover) {
      recover(failed, cause, recover);
    } else {
      end(((NextStep.Fail) step).failure());
    }
  }

  private void retry(Upstreams.Target target, Failure cause, long delay) {
    LOG.info(
        "Generation {}: attempt {} at {} ({}) failed: {}; retrying in {} ms",
        id,
        attemptsOnTarget,
        target.provider().name(),
        target.model(),
        cause.message(),
        delay);
    report("retry", cause, target, delay);
    pendingTimer = delay == 0 ? -1 : vertx.setTimer(delay, t -> attempt());
    if (delay == 0) {
      attempt();
    }
  }

  private void fallBack(Upstreams.Target from, Failure cause, int nextIndex) {
    targetIndex = nextIndex;
    attemptsOnTarget = 0;
    LOG.warn(
        "Generation {}: {} ({}) failed: {}; falling back to {} ({})",
        id,
        from.provider().name(),
        from.model(),
        cause.message(),
        target().provider().name(),
        target().model());
    report("fallback", cause, target(), 0);
    attempt();
  }

  /**
   * The stream broke after it produced output, and its recovery strategy goes on with the answer.
   */
  private void recover(Upstreams.Target broken, Failure cause, NextStep.Recover step) {
    targetIndex = step.targetIndex();
    recoveries++;
    attemptsOnTarget = 0;
    String strategy = step.strategy().configName();
    LOG.warn(
        "Generation {}: {} ({}) broke mid-answer: {}; recovery {} of {}: {} with {} ({})",
        id,
        broken.provider().name(),
        broken.model(),
        cause.message(),
        recoveries,
        broken.policy().recovery().maxAttempts(),
        strategy,
        target().provider().name(),
        target().model());
    if (step.strategy() == TokenbusConfig.Recovery.Strategy.RESTART) {
      restart(cause);
    }
    long delay = step.delayMs();
    report(strategy, cause, target(), delay);
    if (delay > 0) {
      pendingTimer = vertx.setTimer(delay, t -> attempt());
    } else {
      attempt();
    }
  }

  private void restart(Failure cause) {
    text.setLength(0);
    deltas = 0;
    toolCalls = false;
    otherOutput = false;
    sink.reset(cause);
  }

  private void report(String kind, Failure cause, Upstreams.Target next, long delayMs) {
    sink.recovery(
        kind,
        cause,
        new JsonObject()
            .put("kind", kind)
            .put("attempt", attempts)
            .put("recoveries", recoveries)
            .put("provider", next.provider().name())
            .put("model", next.model())
            .put("delay_ms", delayMs)
            .put("message", cause.message())
            .put("code", cause.code()));
  }

  private void end(Failure failure) {
    Usage usage = usageSoFar();
    ended = true;
    stopTimers();
    LOG.info("Generation {} failed: {}", id, failure.message());
    sink.fail(failure, usage);
  }

  private void stopTimers() {
    if (pendingTimer >= 0) {
      vertx.cancelTimer(pendingTimer);
    }
  }

  /** One call to one target; its callbacks count only while it is the current attempt. */
  private final class Attempt implements UpstreamListener {
    final Upstreams.Target target;
    UpstreamCall call;
    Promise<Void> breakerPromise;
    SeamTrimmer trimmer;
    long lastActivityNanos = System.nanoTime();
    boolean produced;
    boolean circuitOpen;
    private boolean settled;
    private boolean counted;

    Attempt(Upstreams.Target target) {
      this.target = target;
    }

    void begin() {
      Continuation from = null;
      if (!text.isEmpty()) {
        from = new Continuation(text.toString(), deltas);
        if (!target.provider().continuesExactly()) {
          trimmer = SeamTrimmer.repeats(from.text());
        } else if (!target.provider().rewrites(from).isEmpty()) {
          trimmer = SeamTrimmer.rewrites(target.provider().rewrites(from));
        }
      }
      lastActivityNanos = System.nanoTime();
      try {
        call = target.provider().start(request, target.model(), from, this);
      } catch (RuntimeException e) {
        // A request the provider cannot even build (a client's malformed tool arguments, say): no
        // retry can help.
        LOG.warn(
            "Generation {}: {} cannot send this request: {}",
            id,
            target.provider().name(),
            e.toString());
        settle(true);
        if (live()) {
          UpstreamRun.this.onFailure(
              this,
              UpstreamFailure.fatal(
                  Failure.invalidRequest(
                      "unsupported_request",
                      "The request cannot be sent to " + target.model() + ": " + e.getMessage())));
        }
      }
    }

    /**
     * Counts how the attempt ended ({@code tokenbus_upstream_requests_total}), once: {@code ok}, an
     * error code, or {@code cancelled}.
     */
    void counted(String status) {
      if (!counted) {
        counted = true;
        metrics.upstreamRequest(target.provider().name(), target.model(), status);
      }
    }

    private boolean live() {
      return !ended && current == this;
    }

    private void progress() {
      lastActivityNanos = System.nanoTime();
      if (!produced) {
        produced = true;
        attemptsOnTarget = 0;
        settle(true);
      }
    }

    @Override
    public void onDelta(String piece, String chunk) {
      if (!live()) {
        return;
      }
      progress();
      if (cap > 0 && deltas >= cap) {
        // Past the cap: this delta is not the answer's; the answer ends as a model's does there.
        settle(true);
        usageDone = usageDone.plus(call.usageSoFar());
        call.cancel();
        counted("ok");
        current = null;
        ended = true;
        stopTimers();
        sink.finish("length", usageDone);
        return;
      }
      String out = trimmer == null ? piece : trimmer.feed(piece);
      if (out.isEmpty() && (chunk == null || !piece.isEmpty())) {
        return; // nothing, or text the seam trimmer held back or dropped: its chunk's fields go
        // with it
      }
      text.append(out);
      otherOutput |= out.isEmpty();
      deltas++;
      sink.delta(out, chunk);
    }

    @Override
    public void onToolCall(String chunk) {
      if (!live()) {
        return;
      }
      progress();
      flushTrimmer();
      toolCalls = true;
      sink.toolCall(chunk);
    }

    @Override
    public void onFinish(String finishReason, Usage usage) {
      if (!live()) {
        return;
      }
      flushTrimmer();
      settle(true);
      usageDone = usageDone.plus(usage != null ? usage : call.usageSoFar());
      counted("ok");
      current = null;
      ended = true;
      stopTimers();
      sink.finish(finishReason, usageDone);
    }

    @Override
    public void onFailure(UpstreamFailure failure) {
      if (!live()) {
        return;
      }
      settle(!failure.upstreamsFault());
      UpstreamRun.this.onFailure(this, failure);
    }

    /** The provider's circuit is open: this attempt fails without calling it. */
    void failOnOpenCircuit(UpstreamFailure failure) {
      circuitOpen = true;
      UpstreamRun.this.onFailure(this, failure);
    }

    void timedOut(String message) {
      call.cancel();
      settle(false);
      UpstreamRun.this.onFailure(this, UpstreamFailure.broken(Failure.upstreamTimeout(message)));
    }

    private void flushTrimmer() {
      if (trimmer != null && !trimmer.done()) {
        String rest = trimmer.flush();
        if (!rest.isEmpty()) {
          text.append(rest);
          deltas++;
          sink.delta(rest, null);
        }
      }
    }

    /**
     * Tells the model's circuit how the upstream did: alive (or not its fault), or failing. A
     * success starts the failure count over.
     */
    void settle(boolean healthy) {
      if (settled || breakerPromise == null) {
        return;
      }
      settled = true;
      if (healthy) {
        breakerPromise.tryComplete();
      } else {
        breakerPromise.tryFail("attempt failed");
      }
    }
  }
}
