package io.tokenbus.bus;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The event-bus codec of each record tokenbus sends. On one node every receiver gets the same
 * immutable instance (no copy); between nodes the record travels in {@link Wire}'s compact binary
 * form, encoded once per message.
 */
public final class BusCodec<T> implements MessageCodec<T, T> {

  private final Class<T> type;
  private final BiConsumer<Wire.Writer, T> write;
  private final Function<Wire.Reader, T> read;

  private BusCodec(Class<T> type, BiConsumer<Wire.Writer, T> write, Function<Wire.Reader, T> read) {
    this.type = type;
    this.write = write;
    this.read = read;
  }

  /** Registers the codecs of every record tokenbus sends; call once per {@link Vertx}. */
  public static void registerAll(Vertx vertx) {
    register(vertx, EventBatch.class, Wire::writeBatch, Wire::readBatch);
    register(vertx, GenerationRequest.class, Wire::writeRequest, Wire::readRequest);
    register(vertx, StartReply.class, Wire::writeStartReply, Wire::readStartReply);
    register(
        vertx,
        ControlCommand.class,
        (w, c) -> w.writeInt(c.ordinal()),
        r -> ControlCommand.values()[r.readInt()]);
  }

  /**
   * What a serialized record may hold: tokenbus's own records, and the JDK's collections, strings
   * and boxes.
   */
  private static final ObjectInputFilter SERIALIZED_CLASSES =
      ObjectInputFilter.Config.createFilter(
          "maxdepth=20;maxrefs=100000;io.tokenbus.**;java.lang.*;java.util.*;java.util.ImmutableCollections$*;!*");

  /**
   * Registers a record that travels between nodes in Java serialization: for the chat sessions'
   * small, infrequent batches, where a hand-written format would buy nothing.
   */
  public static <T extends Serializable> void registerSerialized(Vertx vertx, Class<T> type) {
    register(
        vertx,
        type,
        (w, v) -> {
          ByteArrayOutputStream bytes = new ByteArrayOutputStream();
          try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(v);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
          w.writeBytes(bytes.toByteArray());
        },
        r -> {
          try (ObjectInputStream in =
              new ObjectInputStream(new ByteArrayInputStream(r.readBytes()))) {
            in.setObjectInputFilter(
                SERIALIZED_CLASSES); // the event bus port is not authenticated: no gadget classes
            return type.cast(in.readObject());
          } catch (IOException | ClassNotFoundException e) {
            throw new IllegalStateException("cannot read a " + type.getSimpleName(), e);
          }
        });
  }

  /** Registers a record that never leaves its node: passed by reference, refused on the wire. */
  public static <T> void registerLocal(Vertx vertx, Class<T> type) {
    register(
        vertx,
        type,
        (w, v) -> {
          throw new UnsupportedOperationException(type.getSimpleName() + " is node-local");
        },
        r -> {
          throw new UnsupportedOperationException(type.getSimpleName() + " is node-local");
        });
  }

  private static <T> void register(
      Vertx vertx, Class<T> type, BiConsumer<Wire.Writer, T> write, Function<Wire.Reader, T> read) {
    vertx.eventBus().registerDefaultCodec(type, new BusCodec<>(type, write, read));
  }

  @Override
  public void encodeToWire(Buffer buffer, T value) {
    int lengthAt = buffer.length();
    buffer.appendInt(0);
    write.accept(new Wire.Writer(buffer), value);
    buffer.setInt(lengthAt, buffer.length() - lengthAt - 4);
  }

  @Override
  public T decodeFromWire(int pos, Buffer buffer) {
    int length = buffer.getInt(pos);
    return read.apply(new Wire.Reader(buffer.getBuffer(pos + 4, pos + 4 + length)));
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
