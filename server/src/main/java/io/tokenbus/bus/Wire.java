package io.tokenbus.bus;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The binary form of tokenbus's event-bus records between nodes. Strings are UTF-8 with a length
 * (-1 for null).
 */
final class Wire {

  private Wire() {}

  static final class Writer {
    private final Buffer buffer;

    Writer(Buffer buffer) {
      this.buffer = buffer;
    }

    void writeInt(int value) {
      buffer.appendInt(value);
    }

    void writeLong(long value) {
      buffer.appendLong(value);
    }

    void writeBytes(byte[] bytes) {
      buffer.appendInt(bytes.length).appendBytes(bytes);
    }

    void writeString(String value) {
      if (value == null) {
        buffer.appendInt(-1);
        return;
      }
      byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
      buffer.appendInt(bytes.length).appendBytes(bytes);
    }
  }

  static final class Reader {
    private final Buffer buffer;
    private int pos;

    Reader(Buffer buffer) {
      this.buffer = buffer;
    }

    int readInt() {
      int value = buffer.getInt(pos);
      pos += 4;
      return value;
    }

    long readLong() {
      long value = buffer.getLong(pos);
      pos += 8;
      return value;
    }

    byte[] readBytes() {
      int length = readInt();
      byte[] bytes = buffer.getBytes(pos, pos + length);
      pos += length;
      return bytes;
    }

    String readString() {
      int length = readInt();
      if (length < 0) {
        return null;
      }
      String value = buffer.getString(pos, pos + length, StandardCharsets.UTF_8.name());
      pos += length;
      return value;
    }
  }

  static void writeBatch(Writer w, EventBatch batch) {
    w.writeString(batch.generation());
    w.writeLong(batch.epoch());
    w.writeInt(batch.events().size());
    for (GenerationEvent event : batch.events()) {
      writeEvent(w, event);
    }
  }

  static EventBatch readBatch(Reader r) {
    String generation = r.readString();
    long epoch = r.readLong();
    int count = r.readInt();
    List<GenerationEvent> events = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      events.add(readEvent(r));
    }
    return new EventBatch(generation, epoch, events);
  }

  static void writeEvent(Writer w, GenerationEvent event) {
    w.writeLong(event.seq());
    w.writeInt(event.type().ordinal());
    w.writeString(event.text());
    w.writeString(event.finishReason());
    writeUsage(w, event.usage());
    writeFailure(w, event.failure());
    w.writeString(event.data());
  }

  static GenerationEvent readEvent(Reader r) {
    long seq = r.readLong();
    EventType type = EventType.values()[r.readInt()];
    return new GenerationEvent(
        seq, type, r.readString(), r.readString(), readUsage(r), readFailure(r), r.readString());
  }

  private static void writeUsage(Writer w, Usage usage) {
    w.writeInt(usage == null ? 0 : 1);
    if (usage != null) {
      w.writeLong(usage.promptTokens());
      w.writeLong(usage.completionTokens());
      w.writeLong(usage.totalTokens());
    }
  }

  private static Usage readUsage(Reader r) {
    return r.readInt() == 0 ? null : new Usage(r.readLong(), r.readLong(), r.readLong());
  }

  private static void writeFailure(Writer w, Failure failure) {
    w.writeInt(failure == null ? 0 : 1);
    if (failure != null) {
      w.writeInt(failure.status());
      w.writeString(failure.type());
      w.writeString(failure.code());
      w.writeString(failure.message());
    }
  }

  private static Failure readFailure(Reader r) {
    return r.readInt() == 0
        ? null
        : new Failure(r.readInt(), r.readString(), r.readString(), r.readString());
  }

  static void writeRequest(Writer w, GenerationRequest request) {
    w.writeString(request.model());
    w.writeString(request.body().encode());
    w.writeString(request.maxTokens() == null ? null : request.maxTokens().toString());
    w.writeString(
        request.mockTokensPerSecond() == null ? null : request.mockTokensPerSecond().toString());
    SessionLink link = request.session();
    w.writeString(link == null ? null : link.session());
    w.writeString(link == null ? null : link.message());
    w.writeString(link == null ? null : link.generation());
    w.writeString(request.creator().tenant());
    w.writeString(request.creator().credential());
    w.writeInt(request.metadata().size());
    request
        .metadata()
        .forEach(
            (key, value) -> {
              w.writeString(key);
              w.writeString(value);
            });
  }

  static GenerationRequest readRequest(Reader r) {
    String model = r.readString();
    JsonObject body = new JsonObject(r.readString());
    String maxTokens = r.readString();
    String rate = r.readString();
    String session = r.readString();
    String message = r.readString();
    String generation = r.readString();
    Creator creator = new Creator(r.readString(), r.readString());
    int entries = r.readInt();
    Map<String, String> metadata = new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      metadata.put(r.readString(), r.readString());
    }
    return new GenerationRequest(
        model,
        body,
        maxTokens == null ? null : Integer.valueOf(maxTokens),
        rate == null ? null : Double.valueOf(rate),
        session == null ? null : new SessionLink(session, message, generation),
        creator,
        metadata);
  }

  static void writeStartReply(Writer w, StartReply reply) {
    w.writeString(reply.generationId());
    w.writeLong(reply.created());
    writeFailure(w, reply.failure());
  }

  static StartReply readStartReply(Reader r) {
    return new StartReply(r.readString(), r.readLong(), readFailure(r));
  }
}
