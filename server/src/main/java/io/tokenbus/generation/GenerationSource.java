package io.tokenbus.generation;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.fanout.StreamSource;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import java.util.List;

/**
 * A generation as the fan-out carries it: its log in the generation store, its batches on {@code
 * tokenbus.gen.<id>.events}, every wire format of {@link GenerationEncoder}; plain deltas (no
 * pass-through data) fold together for a viewer that fell behind.
 */
public final class GenerationSource implements StreamSource<GenerationEvent> {

  private final GenerationInfo info;
  private final GenerationStore store;
  private final GenerationEncoder encoder;

  public GenerationSource(GenerationInfo info, GenerationStore store) {
    this.info = info;
    this.store = store;
    this.encoder = new GenerationEncoder(info);
  }

  @Override
  public String address() {
    return Addresses.events(info.id());
  }

  @Override
  public String id() {
    return info.id();
  }

  @Override
  public Future<List<GenerationEvent>> readAfter(long cursor) {
    return store.readAfter(info.id(), cursor);
  }

  @Override
  public Buffer encode(WireFormat format, GenerationEvent event) {
    return encoder.encode(format, event);
  }

  @Override
  public String foldKey(GenerationEvent event) {
    return event.type() == EventType.DELTA && event.data() == null ? "" : null;
  }

  @Override
  public String text(GenerationEvent event) {
    return event.text();
  }

  @Override
  public GenerationEvent folded(GenerationEvent last, String text) {
    return GenerationEvent.delta(last.seq(), text);
  }

  @Override
  public String goneReason() {
    return "generation log unavailable";
  }

  /** Tells the owner someone watches, for its idle-cancel policy. */
  @Override
  public void watched(EventBus bus) {
    bus.send(Addresses.control(info.id()), ControlCommand.WATCHING);
  }
}
