package io.tokenbus.bus;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;

/**
 * Passes immutable records between verticles of one node without copying: every local receiver
 * gets the same instance. Clustered (wire) encoding arrives with clustering.
 */
public final class LocalCodec<T> implements MessageCodec<T, T> {

  private final Class<T> type;

  private LocalCodec(Class<T> type) {
    this.type = type;
  }

  /** Registers the codecs of every record tokenbus sends; call once per {@link Vertx}. */
  public static void registerAll(Vertx vertx) {
    for (Class<?> type : new Class<?>[] {
        EventBatch.class, GenerationRequest.class, StartReply.class, ControlCommand.class}) {
      register(vertx, type);
    }
  }

  private static <T> void register(Vertx vertx, Class<T> type) {
    vertx.eventBus().registerDefaultCodec(type, new LocalCodec<>(type));
  }

  @Override
  public void encodeToWire(Buffer buffer, T value) {
    throw new UnsupportedOperationException(type.getSimpleName() + " is node-local in single-node mode");
  }

  @Override
  public T decodeFromWire(int pos, Buffer buffer) {
    throw new UnsupportedOperationException(type.getSimpleName() + " is node-local in single-node mode");
  }

  @Override
  public T transform(T value) {
    return value;
  }

  @Override
  public String name() {
    return "tokenbus." + type.getSimpleName();
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }
}
