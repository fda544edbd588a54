package io.tokenbus.bench;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.HdrHistogram.Histogram;

/**
 * Token latencies in µs, recorded by many event loops at once: one plain histogram per recording
 * thread, merged at the end. A single shared concurrent one (HdrHistogram's {@code Recorder})
 * contends on its maximum and cost the client a third of its time at 10,000 subscribers.
 */
final class Latencies {

  private final Queue<Histogram> all = new ConcurrentLinkedQueue<>();
  private final ThreadLocal<Histogram> mine = ThreadLocal.withInitial(() -> {
    Histogram histogram = new Histogram(3);
    all.add(histogram);
    return histogram;
  });

  /** The recording thread's histogram: a subscriber keeps it, as its socket stays on one event loop. */
  Histogram mine() {
    return mine.get();
  }

  /** Every thread's recordings; call once they have all stopped (their subscribers ended). */
  Histogram merged() {
    Histogram merged = new Histogram(3);
    all.forEach(merged::add);
    return merged;
  }
}
