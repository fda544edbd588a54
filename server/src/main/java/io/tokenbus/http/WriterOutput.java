package io.tokenbus.http;

import io.tokenbus.bus.StreamEvent;
import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.buffer.Buffer;

/**
 * A viewer's output over its connection's {@link ConnectionWriter}: what every streaming output
 * shares (the format, the queue, the writes, the drain); what ends and what breaks off a stream is
 * each output's own.
 */
abstract class WriterOutput<E extends StreamEvent> implements ViewerOutput<E> {

  protected final ConnectionWriter writer;
  private final WireFormat format;

  WriterOutput(ConnectionWriter writer, WireFormat format) {
    this.writer = writer;
    this.format = format;
  }

  @Override
  public final WireFormat format() {
    return format;
  }

  @Override
  public final boolean writeQueueFull() {
    return writer.queueFull();
  }

  @Override
  public void write(Encoded<E> events) {
    writer.write(events);
  }

  @Override
  public final void write(Buffer head) {
    writer.write(head);
  }

  @Override
  public final void onDrain(Runnable action) {
    writer.whenDrained(action);
  }
}
