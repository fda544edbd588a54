package io.tokenbus.fanout;

import io.tokenbus.bus.EventBatch;

/**
 * A published batch as a node's viewers receive it: each wire format is encoded the first time a
 * viewer needs it and then shared by every viewer on every event loop of the node.
 */
final class EncodedBatch {

  private final EventBatch batch;
  private final EventEncoder encoder;
  private final Encoded[] byFormat = new Encoded[WireFormat.values().length];

  EncodedBatch(EventBatch batch, EventEncoder encoder) {
    this.batch = batch;
    this.encoder = encoder;
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
      encoded = byFormat[format.ordinal()] = Encoded.of(encoder, format, batch.events());
    }
    return encoded;
  }
}
