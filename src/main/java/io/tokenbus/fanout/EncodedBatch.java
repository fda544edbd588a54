package io.tokenbus.fanout;

import io.tokenbus.bus.EventBatch;

/**
 * A published batch as a node's viewers receive it: each wire format is encoded the first time a
 * viewer needs it and then shared by every viewer on every event loop of the node.
 */
final class EncodedBatch {

  private final EventBatch batch;
  private final FrameCache frames;
  private final Encoded[] byFormat = new Encoded[WireFormat.values().length];

  EncodedBatch(EventBatch batch, FrameCache frames) {
    this.batch = batch;
    this.frames = frames;
  }

  long firstSeq() {
    return batch.firstSeq();
  }

  long lastSeq() {
    return batch.lastSeq();
  }

  int size() {
    return batch.events().size();
  }

  synchronized Encoded in(WireFormat format) {
    Encoded encoded = byFormat[format.ordinal()];
    if (encoded == null) {
      encoded = byFormat[format.ordinal()] = Encoded.cached(frames, format, batch.events());
    }
    return encoded;
  }
}
