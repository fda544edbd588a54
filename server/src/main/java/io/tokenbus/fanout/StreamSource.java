package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import java.util.List;

/**
 * One stream the fan-out can carry (a generation, a chat session, any later kind): where its
 * batches are published, how to read its log after a cursor, how each event looks in each wire
 * format, which events fold together for a viewer that fell behind, and what a newcomer gets first.
 * Everything else a viewer needs (the bounded queues, catch-up, stall limit, retries, resync) is
 * the engine's, the same for every kind.
 */
public interface StreamSource<E extends StreamEvent> {

  /**
   * The event-bus address its batches ({@link io.tokenbus.bus.StreamBatch}) are published on; it
   * names the stream.
   */
  String address();

  /** The stream's id, for log lines. */
  String id();

  /**
   * The events after {@code cursor}, in order; null when the stream is gone (unknown or expired).
   */
  Future<List<E>> readAfter(long cursor);

  /** The event in {@code format}; called once per event and format per node (the frame cache's). */
  Buffer encode(WireFormat format, E event);

  /**
   * Two neighbouring events fold into one when both give the same non-null key (a generation's
   * plain deltas, one answer's deltas in a session); null: the event stays whole.
   */
  String foldKey(E event);

  /** The text of a foldable event. */
  String text(E event);

  /**
   * A foldable event like {@code last}, carrying {@code text} (what it and those before it held)
   * and {@code last}'s seq.
   */
  E folded(E last, String text);

  /** Why viewers stop when {@link #readAfter} says the stream is gone. */
  String goneReason();

  /**
   * Where a viewer that asked for {@code cursor} starts, and what it is sent before the log after
   * that (null: nothing). By default it starts at its cursor; a chat session gives a newcomer
   * (cursor -1) its whole state first.
   */
  default Future<Start> start(long cursor, WireFormat format) {
    return Future.succeededFuture(new Start(cursor, null));
  }

  /** The cursor to read the log after, and the bytes to send before it (or null). */
  record Start(long cursor, Buffer head) {}

  /**
   * The stream has viewers on this node: at the first join and then periodically (see {@link
   * FanOut}).
   */
  default void watched(EventBus bus) {}
}
