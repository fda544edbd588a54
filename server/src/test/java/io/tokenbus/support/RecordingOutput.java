package io.tokenbus.support;

import io.tokenbus.bus.StreamEvent;
import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A viewer's output that records what the engine writes (the events, their seqs, the size of each
 * write and the thread it came on) and never fills up: for tests of the engine without a socket.
 */
public final class RecordingOutput<E extends StreamEvent> implements ViewerOutput<E> {

  public final Recorder<E> events = new Recorder<>();
  public final Recorder<Long> seqs = new Recorder<>();
  public final List<Thread> threads = new ArrayList<>();
  public final List<Integer> writes = new ArrayList<>();

  /** How the viewer ended: {@code end}, or {@code lost: <reason>}. */
  public final Recorder<String> endings = new Recorder<>();

  @Override
  public WireFormat format() {
    return WireFormat.SSE;
  }

  @Override
  public boolean writeQueueFull() {
    return false;
  }

  @Override
  public void write(Encoded<E> encoded) {
    threads.add(Thread.currentThread());
    writes.add(encoded.size());
    encoded
        .events()
        .forEach(
            event -> {
              events.add(event);
              seqs.add(event.seq());
            });
  }

  @Override
  public void write(Buffer head) {}

  @Override
  public void onDrain(Runnable action) {}

  @Override
  public void end() {
    endings.add("end");
  }

  @Override
  public void stalled() {}

  @Override
  public void lost(String reason) {
    endings.add("lost: " + reason);
  }
}
