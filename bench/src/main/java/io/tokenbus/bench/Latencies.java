package io.tokenbus.bench;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.HdrHistogram.Histogram;

/**
 * Token latencies in µs, recorded by many event loops at once: plain histograms per recording
 * thread, merged at the end. A single shared concurrent one (HdrHistogram's {@code Recorder})
 * contends on its maximum and cost the client a third of its time at 10,000 subscribers.
 *
 * <p>Two figures: every token, and the tokens from seq {@code settledFrom} on ("steady"), which
 * leaves out the first seconds of a run, while the tool's own fresh JVM is still compiling its read
 * path. Both are reported; nothing else is left out of either.
 */
final class Latencies {

  /** One recording thread's histograms. */
  static final class Mine {
    final Histogram all = new Histogram(3);
    final Histogram steady = new Histogram(3);
  }

  private final long settledFrom;
  private final Queue<Mine> every = new ConcurrentLinkedQueue<>();
  private final ThreadLocal<Mine> mine =
      ThreadLocal.withInitial(
          () -> {
            Mine histograms = new Mine();
            every.add(histograms);
            return histograms;
          });

  Latencies(long settledFrom) {
    this.settledFrom = settledFrom;
  }

  /**
   * The recording thread's histograms: a subscriber keeps them, as its socket stays on one event
   * loop.
   */
  Mine mine() {
    return mine.get();
  }

  /** The first seq counted as steady. */
  long settledFrom() {
    return settledFrom;
  }

  /**
   * Every thread's recordings of every token; call once they have all stopped (their subscribers
   * ended).
   */
  Histogram merged() {
    Histogram merged = new Histogram(3);
    every.forEach(m -> merged.add(m.all));
    return merged;
  }

  /** The same, for the tokens from seq {@link #settledFrom()} on. */
  Histogram mergedSteady() {
    Histogram merged = new Histogram(3);
    every.forEach(m -> merged.add(m.steady));
    return merged;
  }
}
