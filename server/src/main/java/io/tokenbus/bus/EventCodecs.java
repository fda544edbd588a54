package io.tokenbus.bus;

import java.io.IOException;
import java.util.List;

/**
 * The cluster codecs of the event records that generations and sessions store: type ids 1 to 19
 * (the ranges are listed in {@code cluster.ClusterCodecs}).
 */
public final class EventCodecs {

  private EventCodecs() {}

  public static final ClusterCodec<Usage> USAGE =
      ClusterCodec.of(
          Usage.class,
          1,
          (out, u) -> {
            out.writeLong(u.promptTokens());
            out.writeLong(u.completionTokens());
            out.writeLong(u.totalTokens());
          },
          in -> new Usage(in.readLong(), in.readLong(), in.readLong()));

  public static final ClusterCodec<Failure> FAILURE =
      ClusterCodec.of(
          Failure.class,
          2,
          (out, f) -> {
            out.writeInt(f.status());
            out.writeString(f.type());
            out.writeString(f.code());
            out.writeString(f.message());
          },
          in -> new Failure(in.readInt(), in.readString(), in.readString(), in.readString()));

  public static final ClusterCodec<Creator> CREATOR =
      ClusterCodec.of(
          Creator.class,
          3,
          (out, c) -> {
            out.writeString(c.tenant());
            out.writeString(c.credential());
          },
          in -> new Creator(in.readString(), in.readString()));

  public static final ClusterCodec<SessionLink> SESSION_LINK =
      ClusterCodec.of(
          SessionLink.class,
          4,
          (out, l) -> {
            out.writeString(l.session());
            out.writeString(l.message());
            out.writeString(l.generation());
          },
          in -> new SessionLink(in.readString(), in.readString(), in.readString()));

  private static final EventType[] TYPES = EventType.values();

  /** The event type as its ordinal: kinds are only ever appended (see {@link EventType}). */
  public static final ClusterCodec<GenerationEvent> GENERATION_EVENT =
      ClusterCodec.of(
          GenerationEvent.class,
          5,
          (out, e) -> {
            out.writeLong(e.seq());
            out.writeByte(e.type().ordinal());
            out.writeString(e.text());
            out.writeString(e.finishReason());
            USAGE.writeNullable(out, e.usage());
            FAILURE.writeNullable(out, e.failure());
            out.writeString(e.data());
          },
          in -> {
            long seq = in.readLong();
            int type = in.readUnsignedByte();
            if (type >= TYPES.length) {
              throw new IOException("unknown event type " + type);
            }
            return new GenerationEvent(
                seq,
                TYPES[type],
                in.readString(),
                in.readString(),
                USAGE.readNullable(in),
                FAILURE.readNullable(in),
                in.readString());
          });

  public static List<ClusterCodec<?>> all() {
    return List.of(USAGE, FAILURE, CREATOR, SESSION_LINK, GENERATION_EVENT);
  }
}
