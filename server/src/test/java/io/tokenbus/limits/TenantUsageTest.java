package io.tokenbus.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The counting itself, with the clock given: the rate's sliding minute, slots and the day. */
@DisplayName("Tenant usage counting")
class TenantUsageTest {

  private static final long T0 = 1_800_000_000_000L; // some instant, in ms

  @Test
  @DisplayName(
      "a rate of N a minute lets N through at once, then one every 60/N s, never a new burst at"
          + " a minute boundary")
  void slidingMinute() {
    TenantUsage usage = new TenantUsage();
    for (int i = 0; i < 6; i++) {
      TenantUsage.RequestCount count = usage.request(T0, 6);
      assertTrue(count.allowed());
      assertEquals(5 - i, count.remaining());
    }
    TenantUsage.RequestCount refused = usage.request(T0, 6);
    assertFalse(refused.allowed());
    assertEquals(10_000, refused.retryAfterMillis(), "one comes back every 10 s");
    assertEquals(60_000, refused.resetMillis());
    assertFalse(usage.request(T0 + 9_999, 6).allowed());
    assertTrue(usage.request(T0 + 10_000, 6).allowed());
    assertFalse(usage.request(T0 + 10_000, 6).allowed());
    // A minute after the burst, the whole minute is not back at once: it refills at the rate.
    assertTrue(usage.request(T0 + 70_000, 6).allowed());
    assertEquals(5, usage.request(T0 + 130_000, 6).remaining(), "rested a minute: full again");
  }

  @Test
  @DisplayName(
      "a burst smaller than the minute lets that many through at once, then one every 60/N s;"
          + " 0 or more than N means the whole minute")
  void burst() {
    TenantUsage usage = new TenantUsage();
    for (int i = 0; i < 5; i++) {
      TenantUsage.RequestCount count = usage.request(T0, 60, 5);
      assertTrue(count.allowed(), "request " + i);
      assertEquals(60, count.limit());
      assertEquals(4 - i, count.remaining());
    }
    TenantUsage.RequestCount refused = usage.request(T0, 60, 5);
    assertFalse(refused.allowed());
    assertEquals(1_000, refused.retryAfterMillis(), "one comes back every second");
    assertTrue(usage.request(T0 + 1_000, 60, 5).allowed());
    assertFalse(usage.request(T0 + 1_000, 60, 5).allowed());
    assertEquals(4, usage.request(T0 + 60_000, 60, 5).remaining(), "rested: the burst is back");

    for (int burst : new int[] {0, 61}) {
      TenantUsage whole = new TenantUsage();
      int through = 0;
      while (whole.request(T0, 60, burst).allowed()) {
        through++;
      }
      assertEquals(60, through, "burst " + burst);
    }
  }

  @Test
  @DisplayName("running slots: taken once per id, freed once, stale ones forgotten")
  void slots() {
    TenantUsage usage = new TenantUsage();
    assertEquals(TenantUsage.Admission.ADMITTED, usage.admit("a", T0, 2, 0, 60_000).verdict());
    assertEquals(
        TenantUsage.Admission.ADMITTED,
        usage.admit("a", T0, 2, 0, 60_000).verdict(),
        "the same id twice is one slot");
    assertEquals(TenantUsage.Admission.ADMITTED, usage.admit("b", T0, 2, 0, 60_000).verdict());
    assertEquals(TenantUsage.Admission.CONCURRENCY, usage.admit("c", T0, 2, 0, 60_000).verdict());
    usage.end("a", T0, 0);
    usage.end("a", T0, 0);
    assertEquals(1, usage.running());
    assertEquals(TenantUsage.Admission.ADMITTED, usage.admit("c", T0, 2, 0, 60_000).verdict());
    assertEquals(
        TenantUsage.Admission.ADMITTED,
        usage.admit("d", T0 + 60_001, 2, 0, 60_000).verdict(),
        "b and c, never ended, are forgotten after the stale time");
    assertEquals(1, usage.running());
  }

  @Test
  @DisplayName("the day's tokens: counted at the end, refused once used up, new at midnight UTC")
  void dailyTokens() {
    long midnight = Math.floorDiv(T0, TenantUsage.DAY_MILLIS) * TenantUsage.DAY_MILLIS;
    TenantUsage usage = new TenantUsage();
    usage.admit("a", midnight + 1000, 0, 100, 60_000);
    usage.end("a", midnight + 2000, 100);
    assertEquals(100, usage.request(midnight + 3000, 0).tokensToday());
    assertEquals(
        TenantUsage.Admission.QUOTA, usage.admit("b", midnight + 4000, 0, 100, 60_000).verdict());
    assertEquals(
        TenantUsage.Admission.ADMITTED,
        usage.admit("b", midnight + TenantUsage.DAY_MILLIS, 0, 100, 60_000).verdict());
    assertEquals(0, usage.request(midnight + TenantUsage.DAY_MILLIS, 0).tokensToday());
  }

  @Test
  @DisplayName(
      "large limits never let more than the limit through in a minute; a clock behind at"
          + " midnight does not wipe the new day")
  void edges() {
    for (int limit : new int[] {1, 7, 45_000, 40_000_000}) {
      TenantUsage usage = new TenantUsage();
      int through = 0;
      while (through <= limit && usage.request(T0, limit).allowed()) {
        through++;
      }
      assertEquals(limit, through, "a burst at " + limit);
    }
    long midnight = Math.floorDiv(T0, TenantUsage.DAY_MILLIS) * TenantUsage.DAY_MILLIS;
    TenantUsage usage = new TenantUsage();
    usage.end("a", midnight + 1000, 60);
    assertEquals(60, usage.request(midnight - 500, 0).tokensToday(), "a node 1.5 s behind");
    assertEquals(60, usage.request(midnight + 2000, 0).tokensToday());
  }

  @Test
  @DisplayName("OpenAI's duration format for the reset headers")
  void durations() {
    assertEquals("20ms", RateHeaders.duration(20));
    assertEquals("1.5s", RateHeaders.duration(1500));
    assertEquals("6m0s", RateHeaders.duration(360_000));
    assertEquals("2h3m4.05s", RateHeaders.duration(7_384_050));
  }
}
