package io.tokenbus.generation;

import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.config.TokenbusConfig.Recovery.Strategy;
import java.util.function.LongUnaryOperator;

/**
 * What an upstream run does after a failed attempt: retry the same target, fall back to the next,
 * recover mid-answer, or fail. A pure function of the failure and the run's counts, so each rule is
 * stated (and tested) apart from the I/O that {@link UpstreamRun} carries out.
 */
sealed interface NextStep {

  /** The same target again, after a delay (0: at once). */
  record Retry(long delayMs) implements NextStep {}

  /** The next target of the chain, at once, its attempts counted from zero. */
  record FallBack(int targetIndex) implements NextStep {}

  /**
   * The answer goes on after a break: {@code CONTINUE} from the partial text or {@code RESTART} it,
   * on {@code targetIndex} (the same target, or the next when the wait asked for is too long).
   */
  record Recover(Strategy strategy, int targetIndex, long delayMs) implements NextStep {}

  /** The generation ends with this failure. */
  record Fail(Failure failure) implements NextStep {}

  /**
   * One failed attempt and where the run stood.
   *
   * @param retryAfterMs the wait the upstream asked for, or -1
   * @param circuitOpen the attempt never reached the upstream: its model's circuit is open
   * @param afterOutput the attempt produced output and the answer has some (or was taken over with
   *     some): a break to recover from, not a failed start
   * @param attemptsOnTarget attempts on the current target since it was chosen or last produced
   *     output
   * @param retry the retry settings of the target that failed
   * @param recovery the recovery settings of the target that failed
   */
  record Failed(
      Failure cause,
      boolean retryable,
      long retryAfterMs,
      boolean circuitOpen,
      boolean afterOutput,
      boolean toolCalls,
      boolean hasText,
      int attemptsOnTarget,
      int recoveries,
      int targetIndex,
      int chainLength,
      TokenbusConfig.Retry retry,
      TokenbusConfig.Recovery recovery) {}

  /**
   * @param jitter picks a delay from 0 to the given ceiling, both included (the run draws it at
   *     random; a test picks what it checks)
   */
  static NextStep after(Failed failed, LongUnaryOperator jitter) {
    if (!failed.retryable()) {
      return new Fail(failed.cause());
    }
    return failed.afterOutput() ? afterBreak(failed) : retryOrFallBack(failed, jitter);
  }

  /**
   * Nothing was produced: retry while attempts last and the wait is acceptable, then the next
   * target.
   */
  private static NextStep retryOrFallBack(Failed failed, LongUnaryOperator jitter) {
    TokenbusConfig.Retry retry = failed.retry();
    boolean waitTooLong = failed.retryAfterMs() > retry.maxRetryAfterMs();
    if (!failed.circuitOpen() && !waitTooLong && failed.attemptsOnTarget() < retry.maxAttempts()) {
      long delay =
          failed.retryAfterMs() >= 0
              ? failed.retryAfterMs()
              : backoff(retry, failed.attemptsOnTarget(), jitter);
      return new Retry(delay);
    }
    if (failed.targetIndex() + 1 < failed.chainLength()) {
      return new FallBack(failed.targetIndex() + 1);
    }
    return new Fail(failed.cause());
  }

  /** The stream broke after it produced output: the recovery strategy of the target it broke on. */
  private static NextStep afterBreak(Failed failed) {
    TokenbusConfig.Recovery recovery = failed.recovery();
    Strategy strategy = recovery.onBreak();
    if (strategy == Strategy.FAIL || failed.recoveries() >= recovery.maxAttempts()) {
      String why =
          strategy == Strategy.FAIL
              ? "recovery strategy fail"
              : "after " + failed.recoveries() + " recoveries (recovery.max-attempts)";
      return new Fail(
          withCause(failed.cause(), "; not recovered (" + why + "), the text so far is kept"));
    }
    if (strategy == Strategy.CONTINUE && (failed.toolCalls() || !failed.hasText())) {
      return new Fail(
          withCause(
              failed.cause(),
              "; an answer with a tool call, or with no text yet, cannot be continued; the text so far is kept"));
    }
    if (failed.retryAfterMs() > failed.retry().maxRetryAfterMs()) {
      // Too long to wait here: the next target, at once, if there is one.
      if (failed.targetIndex() + 1 >= failed.chainLength()) {
        return new Fail(
            withCause(
                failed.cause(),
                "; the upstream asked to wait "
                    + failed.retryAfterMs()
                    + " ms, longer than retry.max-retry-after-ms; the text so far is kept"));
      }
      return new Recover(strategy, failed.targetIndex() + 1, 0);
    }
    return new Recover(strategy, failed.targetIndex(), Math.max(0, failed.retryAfterMs()));
  }

  /** Full jitter: a delay up to initial × 2^(n−1), at most the maximum. */
  private static long backoff(TokenbusConfig.Retry retry, int attempt, LongUnaryOperator jitter) {
    long ceiling =
        Math.min(
            retry.maxBackoffMs(), (long) retry.initialBackoffMs() << Math.min(20, attempt - 1));
    return ceiling <= 0 ? 0 : jitter.applyAsLong(ceiling);
  }

  private static Failure withCause(Failure cause, String suffix) {
    return new Failure(cause.status(), cause.type(), cause.code(), cause.message() + suffix);
  }
}
