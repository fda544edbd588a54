package io.tokenbus.bench;

import io.vertx.core.buffer.Buffer;

/**
 * Finds the bench tokens ({@code <seq>:<emit nanoTime> }) in a byte stream, across reads and
 * wherever they sit (one per delta, or many in a merged one), and counts each: its latency, and
 * whether it came in order, twice, or after a gap.
 */
final class TokenScanner {

  private final Latencies latencies;
  private Latencies.Mine histograms;
  private long expected = 1;
  long received;
  long lost;
  long duplicated;
  long outOfOrder;
  private long seq;
  private long stamp;
  private int state; // 0: looking for a digit run, 1: in seq, 2: in stamp

  TokenScanner(Latencies latencies) {
    this.latencies = latencies;
  }

  void scan(Buffer buffer, int from, int to, long now) {
    for (int i = from; i < to; i++) {
      scan(buffer.getByte(i), now);
    }
  }

  void scan(byte b, long now) {
    boolean digit = b >= '0' && b <= '9';
    switch (state) {
      case 0 -> {
        if (digit) {
          seq = b - '0';
          state = 1;
        }
      }
      case 1 -> {
        if (digit) {
          seq = seq * 10 + (b - '0');
        } else if (b == ':') {
          stamp = 0;
          state = 2;
        } else {
          state = 0;
        }
      }
      default -> {
        if (digit) {
          stamp = stamp * 10 + (b - '0');
        } else {
          if (b == ' ') {
            token(seq, stamp, now);
          }
          state = 0;
        }
      }
    }
  }

  private void token(long s, long emittedAt, long now) {
    received++;
    if (histograms == null) {
      histograms = latencies.mine();
    }
    long micros = Math.max(0, now - emittedAt) / 1000;
    histograms.all.recordValue(micros);
    if (s >= latencies.settledFrom()) {
      histograms.steady.recordValue(micros);
    }
    if (s == expected) {
      expected++;
    } else if (s > expected) {
      lost += s - expected;
      expected = s + 1;
    } else {
      duplicated++;
      outOfOrder++;
    }
  }
}
