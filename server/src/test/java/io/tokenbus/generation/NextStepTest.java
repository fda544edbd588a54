package io.tokenbus.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.config.TokenbusConfig.Recovery.Strategy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class NextStepTest {

  private static final Failure CAUSE =
      new Failure(502, "upstream_error", "upstream_status", "The upstream answered 502");

  /**
   * Three attempts per target, backoff 100 ms doubling up to 1 s, Retry-After honoured up to 5 s.
   */
  private static final TokenbusConfig.Retry RETRY = new TokenbusConfig.Retry(3, 100, 1000, 5000);

  /** The longest delay full jitter allows: what these tests check the ceiling with. */
  private static final LongUnaryOperator LONGEST = ceiling -> ceiling;

  /** Where a run stands when an attempt fails; each test changes what it is about. */
  private static final class Run {
    Failure cause = CAUSE;
    boolean retryable = true;
    long retryAfterMs = -1;
    boolean circuitOpen;
    boolean afterOutput;
    boolean toolCalls;
    boolean hasText;
    int attemptsOnTarget = 1;
    int recoveries;
    int targetIndex;
    int chainLength = 1;
    TokenbusConfig.Retry retry = RETRY;
    Strategy strategy = Strategy.CONTINUE;
    int maxRecoveries = 3;

    /** The answer has text when the stream breaks. */
    Run brokeMidAnswer() {
      afterOutput = true;
      hasText = true;
      return this;
    }

    NextStep next() {
      return next(LONGEST);
    }

    NextStep next(LongUnaryOperator jitter) {
      return NextStep.after(
          new NextStep.Failed(
              cause,
              retryable,
              retryAfterMs,
              circuitOpen,
              afterOutput,
              toolCalls,
              hasText,
              attemptsOnTarget,
              recoveries,
              targetIndex,
              chainLength,
              retry,
              new TokenbusConfig.Recovery(strategy, maxRecoveries, "", false)),
          jitter);
    }
  }

  private static Failure withSuffix(String suffix) {
    return new Failure(CAUSE.status(), CAUSE.type(), CAUSE.code(), CAUSE.message() + suffix);
  }

  @Test
  @DisplayName(
      "a failure no retry can help ends the generation with that failure, whatever attempts are left")
  void notRetryable() {
    Run run = new Run();
    run.retryable = false;
    run.chainLength = 3;
    assertEquals(new NextStep.Fail(CAUSE), run.next());
    run.brokeMidAnswer();
    assertEquals(new NextStep.Fail(CAUSE), run.next(), "nor does a recovery");
  }

  @Nested
  @DisplayName("before anything was produced")
  class BeforeOutput {

    @Test
    @DisplayName("the same target is retried after a backoff that doubles with each attempt")
    void exponentialBackoff() {
      Run run = new Run();
      assertEquals(new NextStep.Retry(100), run.next());
      run.attemptsOnTarget = 2;
      assertEquals(new NextStep.Retry(200), run.next());
    }

    @Test
    @DisplayName("the backoff is capped at retry.max-backoff-ms, however many attempts were made")
    void backoffCap() {
      Run run = new Run();
      run.retry = new TokenbusConfig.Retry(100, 100, 1000, 5000);
      run.attemptsOnTarget = 5;
      assertEquals(new NextStep.Retry(1000), run.next(), "100 × 2^4 = 1600, capped");
      run.attemptsOnTarget = 99;
      assertEquals(new NextStep.Retry(1000), run.next(), "no overflow past the cap");
    }

    @Test
    @DisplayName(
        "the delay is full jitter: anything from 0 to the ceiling, as the random source picks")
    void fullJitter() {
      List<Long> ceilings = new ArrayList<>();
      Run run = new Run();
      run.attemptsOnTarget = 2;
      assertEquals(
          new NextStep.Retry(0),
          run.next(
              ceiling -> {
                ceilings.add(ceiling);
                return 0;
              }));
      assertEquals(List.of(200L), ceilings, "the random source is asked for 0 to 200 ms");
    }

    @Test
    @DisplayName("with no backoff configured the retry is immediate, and no random delay is drawn")
    void noBackoff() {
      Run run = new Run();
      run.retry = new TokenbusConfig.Retry(3, 0, 0, 5000);
      assertEquals(
          new NextStep.Retry(0),
          run.next(
              ceiling -> {
                throw new AssertionError("no jitter for a zero ceiling");
              }));
    }

    @Test
    @DisplayName(
        "a Retry-After within retry.max-retry-after-ms is the delay, in place of the backoff")
    void retryAfterHonoured() {
      Run run = new Run();
      run.retryAfterMs = 2500;
      assertEquals(
          new NextStep.Retry(2500),
          run.next(
              ceiling -> {
                throw new AssertionError("no backoff when the upstream said how long to wait");
              }));
      run.retryAfterMs = 0;
      assertEquals(new NextStep.Retry(0), run.next());
    }

    @Test
    @DisplayName(
        "a Retry-After longer than retry.max-retry-after-ms is not waited for: the next target, at once")
    void retryAfterTooLong() {
      Run run = new Run();
      run.retryAfterMs = 5001;
      run.chainLength = 2;
      assertEquals(new NextStep.FallBack(1), run.next());
      run.chainLength = 1;
      assertEquals(
          new NextStep.Fail(CAUSE), run.next(), "and with no next target the generation fails");
    }

    @Test
    @DisplayName(
        "once retry.max-attempts are used on a target, the next target of the chain is tried")
    void attemptsExhausted() {
      Run run = new Run();
      run.attemptsOnTarget = 3;
      run.chainLength = 3;
      assertEquals(new NextStep.FallBack(1), run.next());
      run.targetIndex = 1;
      assertEquals(new NextStep.FallBack(2), run.next());
    }

    @Test
    @DisplayName("an open circuit is not retried: the next target, even with attempts left")
    void circuitOpen() {
      Run run = new Run();
      run.circuitOpen = true;
      run.chainLength = 2;
      assertEquals(new NextStep.FallBack(1), run.next());
    }

    @Test
    @DisplayName("at the end of the chain the generation fails with the last failure, unchanged")
    void chainExhausted() {
      Run run = new Run();
      run.attemptsOnTarget = 3;
      run.targetIndex = 2;
      run.chainLength = 3;
      assertEquals(new NextStep.Fail(CAUSE), run.next());
      run.attemptsOnTarget = 1;
      run.circuitOpen = true;
      assertEquals(new NextStep.Fail(CAUSE), run.next(), "an open circuit on the last target too");
    }

    @Test
    @DisplayName("the recovery strategy plays no part: even with fail, a failed start is retried")
    void strategyPlaysNoPart() {
      Run run = new Run();
      run.strategy = Strategy.FAIL;
      assertEquals(new NextStep.Retry(100), run.next());
    }
  }

  @Nested
  @DisplayName("after output was produced (a break mid-answer)")
  class AfterOutput {

    @Test
    @DisplayName("continue: the same target goes on from the partial text, at once")
    void continueFromTheText() {
      Run run = new Run().brokeMidAnswer();
      run.attemptsOnTarget = 3;
      run.targetIndex = 1;
      run.chainLength = 2;
      assertEquals(
          new NextStep.Recover(Strategy.CONTINUE, 1, 0),
          run.next(),
          "retry.max-attempts does not apply to recoveries");
    }

    @Test
    @DisplayName("restart: the same target starts the answer again, at once")
    void restart() {
      Run run = new Run().brokeMidAnswer();
      run.strategy = Strategy.RESTART;
      assertEquals(new NextStep.Recover(Strategy.RESTART, 0, 0), run.next());
    }

    @Test
    @DisplayName("a Retry-After within retry.max-retry-after-ms delays the recovery")
    void recoveryWaitsForRetryAfter() {
      Run run = new Run().brokeMidAnswer();
      run.retryAfterMs = 300;
      assertEquals(new NextStep.Recover(Strategy.CONTINUE, 0, 300), run.next());
    }

    @Test
    @DisplayName(
        "a Retry-After too long to wait moves the recovery to the next target, at once; on the last one it fails")
    void recoveryRetryAfterTooLong() {
      Run run = new Run().brokeMidAnswer();
      run.retryAfterMs = 60_000;
      run.chainLength = 2;
      assertEquals(new NextStep.Recover(Strategy.CONTINUE, 1, 0), run.next());
      run.targetIndex = 1;
      assertEquals(
          new NextStep.Fail(
              withSuffix(
                  "; the upstream asked to wait 60000 ms, longer than retry.max-retry-after-ms; "
                      + "the text so far is kept")),
          run.next());
    }

    @Test
    @DisplayName("fail: the generation ends, its cause kept and the text so far said to be kept")
    void failStrategy() {
      Run run = new Run().brokeMidAnswer();
      run.strategy = Strategy.FAIL;
      run.chainLength = 2;
      assertEquals(
          new NextStep.Fail(
              withSuffix("; not recovered (recovery strategy fail), the text so far is kept")),
          run.next());
    }

    @Test
    @DisplayName("after recovery.max-attempts recoveries, the next break ends the generation")
    void maxRecoveriesReached() {
      Run run = new Run().brokeMidAnswer();
      run.recoveries = 2;
      assertEquals(
          new NextStep.Recover(Strategy.CONTINUE, 0, 0), run.next(), "the third recovery of three");
      run.recoveries = 3;
      assertEquals(
          new NextStep.Fail(
              withSuffix(
                  "; not recovered (after 3 recoveries (recovery.max-attempts)), the text so far is kept")),
          run.next());
      run.strategy = Strategy.RESTART;
      assertEquals(
          new NextStep.Fail(
              withSuffix(
                  "; not recovered (after 3 recoveries (recovery.max-attempts)), the text so far is kept")),
          run.next(),
          "whatever the strategy");
    }

    @Test
    @DisplayName(
        "continue is impossible after a tool call or with no text (other output only): the generation ends")
    void continueImpossible() {
      Failure cannot =
          withSuffix(
              "; an answer with a tool call, or with no text yet, cannot be continued; the text so far is kept");
      Run run = new Run().brokeMidAnswer();
      run.toolCalls = true;
      run.chainLength = 2;
      assertEquals(new NextStep.Fail(cannot), run.next(), "a tool call");
      run.toolCalls = false;
      run.hasText = false;
      assertEquals(new NextStep.Fail(cannot), run.next(), "reasoning or logprobs, no text");
    }

    @Test
    @DisplayName("restart does not care what was produced: after a tool call it restarts")
    void restartAfterToolCall() {
      Run run = new Run().brokeMidAnswer();
      run.strategy = Strategy.RESTART;
      run.toolCalls = true;
      run.hasText = false;
      assertEquals(new NextStep.Recover(Strategy.RESTART, 0, 0), run.next());
    }
  }
}
