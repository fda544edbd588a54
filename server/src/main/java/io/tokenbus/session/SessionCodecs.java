package io.tokenbus.session;

import static io.tokenbus.bus.EventCodecs.FAILURE;
import static io.tokenbus.bus.EventCodecs.GENERATION_EVENT;

import io.tokenbus.bus.ClusterCodec;
import java.util.List;
import java.util.Map;

/**
 * The cluster codecs of a stored session, its ops and their results: type ids 30 to 69 (the ranges
 * are listed in {@code cluster.ClusterCodecs}). Here, not in the cluster package, because the ops
 * and the state's fields are the package's own.
 */
public final class SessionCodecs {

  private SessionCodecs() {}

  static final ClusterCodec<SessionMessage> MESSAGE =
      ClusterCodec.of(
          SessionMessage.class,
          30,
          (out, m) -> {
            out.writeString(m.id());
            out.writeString(m.role());
            out.writeString(m.author());
            out.writeString(m.content());
            out.writeLong(m.created());
            out.writeString(m.generation());
            out.writeString(m.status());
            out.writeString(m.finishReason());
            out.writeString(m.error());
            out.writeString(m.replyTo());
          },
          in ->
              new SessionMessage(
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readLong(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString()));

  static final ClusterCodec<SessionEvent> EVENT =
      ClusterCodec.of(
          SessionEvent.class,
          31,
          (out, e) -> {
            out.writeLong(e.seq());
            out.writeString(e.type());
            MESSAGE.writeNullable(out, e.message());
            out.writeString(e.messageId());
            out.writeString(e.generation());
            out.writeString(e.text());
            out.writeString(e.finishReason());
            FAILURE.writeNullable(out, e.failure());
            out.writeString(e.author());
            out.writeString(e.state());
          },
          in ->
              new SessionEvent(
                  in.readLong(),
                  in.readString(),
                  MESSAGE.readNullable(in),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  FAILURE.readNullable(in),
                  in.readString(),
                  in.readString()));

  static final ClusterCodec<SessionState> STATE =
      ClusterCodec.of(
          SessionState.class,
          32,
          (out, s) -> {
            out.writeString(s.id());
            out.writeString(s.tenant);
            out.writeString(s.title);
            out.writeString(s.model);
            out.writeString(s.system);
            out.writeLong(s.created);
            out.writeLong(s.lastActive);
            ClusterCodec.writeList(out, s.messages, MESSAGE::write);
            ClusterCodec.writeList(out, s.log, EVENT::write);
            out.writeInt(s.participants.size());
            for (Map.Entry<String, Integer> p : s.participants.entrySet()) {
              out.writeString(p.getKey());
              out.writeInt(p.getValue());
            }
            ClusterCodec.writeStrings(out, List.copyOf(s.queue));
            out.writeInt(s.lastTyping.size());
            for (Map.Entry<String, Long> t : s.lastTyping.entrySet()) {
              out.writeString(t.getKey());
              out.writeLong(t.getValue());
            }
            out.writeString(s.answering);
            out.writeLong(s.relayed);
            out.writeLong(s.chars);
            out.writeLong(s.logBytes);
            out.writeLong(s.base);
          },
          in -> {
            SessionState s =
                new SessionState(
                    in.readString(),
                    in.readString(),
                    in.readString(),
                    in.readString(),
                    in.readString(),
                    in.readLong());
            s.lastActive = in.readLong();
            s.messages.addAll(ClusterCodec.readList(in, MESSAGE::read));
            s.log.addAll(ClusterCodec.readList(in, EVENT::read));
            int participants = in.readInt();
            for (int i = 0; i < participants; i++) {
              s.participants.put(in.readString(), in.readInt());
            }
            s.queue.addAll(ClusterCodec.readStrings(in));
            int typing = in.readInt();
            for (int i = 0; i < typing; i++) {
              s.lastTyping.put(in.readString(), in.readLong());
            }
            s.answering = in.readString();
            s.relayed = in.readLong();
            s.chars = in.readLong();
            s.logBytes = in.readLong();
            s.base = in.readLong();
            return s;
          });

  /** The op's value is any registered type (or a box, a string, a list of them): written whole. */
  @SuppressWarnings({"rawtypes", "unchecked"})
  static final ClusterCodec<SessionResult> RESULT =
      ClusterCodec.of(
          SessionResult.class,
          33,
          (out, r) -> {
            out.writeObject(r.value());
            ClusterCodec.writeList(out, (List<SessionEvent>) r.events(), EVENT::write);
          },
          in -> new SessionResult(in.readObject(), ClusterCodec.readList(in, EVENT::read)));

  static final ClusterCodec<SessionBatch> BATCH =
      ClusterCodec.of(
          SessionBatch.class,
          34,
          (out, b) -> {
            out.writeString(b.session());
            ClusterCodec.writeList(out, b.events(), EVENT::write);
          },
          in -> new SessionBatch(in.readString(), ClusterCodec.readList(in, EVENT::read)));

  static final ClusterCodec<SessionState.NewAnswer> NEW_ANSWER =
      ClusterCodec.of(
          SessionState.NewAnswer.class,
          35,
          (out, a) -> {
            out.writeString(a.messageId());
            out.writeString(a.generation());
            out.writeLong(a.now());
          },
          in -> new SessionState.NewAnswer(in.readString(), in.readString(), in.readLong()));

  static final ClusterCodec<SessionState.NextAnswer> NEXT_ANSWER =
      ClusterCodec.of(
          SessionState.NextAnswer.class,
          36,
          (out, a) -> {
            out.writeString(a.messageId());
            out.writeString(a.generation());
            out.writeString(a.tenant());
            out.writeString(a.model());
            out.writeString(a.system());
            ClusterCodec.writeList(out, a.history(), MESSAGE::write);
          },
          in ->
              new SessionState.NextAnswer(
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  ClusterCodec.readList(in, MESSAGE::read)));

  static final ClusterCodec<SessionState.Relayed> RELAYED =
      ClusterCodec.of(
          SessionState.Relayed.class,
          37,
          (out, r) -> {
            NEXT_ANSWER.writeNullable(out, r.next());
            out.writeLong(r.gapAfter());
            out.writeBoolean(r.stale());
          },
          in ->
              new SessionState.Relayed(
                  NEXT_ANSWER.readNullable(in), in.readLong(), in.readBoolean()));

  static final ClusterCodec<SessionState.View> VIEW =
      ClusterCodec.of(
          SessionState.View.class,
          38,
          (out, v) -> {
            out.writeString(v.id());
            out.writeString(v.tenant());
            out.writeString(v.title());
            out.writeString(v.model());
            out.writeString(v.system());
            out.writeLong(v.created());
            ClusterCodec.writeList(out, v.messages(), MESSAGE::write);
            ClusterCodec.writeStrings(out, v.participants());
            out.writeString(v.answering());
            out.writeInt(v.queued());
            out.writeLong(v.seq());
          },
          in ->
              new SessionState.View(
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readLong(),
                  List.copyOf(ClusterCodec.readList(in, MESSAGE::read)),
                  List.copyOf(ClusterCodec.readStrings(in)),
                  in.readString(),
                  in.readInt(),
                  in.readLong()));

  static final ClusterCodec<SessionOps.Posted> POSTED =
      ClusterCodec.of(
          SessionOps.Posted.class,
          40,
          (out, p) -> {
            NEXT_ANSWER.writeNullable(out, p.next());
            out.writeBoolean(p.queued());
            FAILURE.writeNullable(out, p.refused());
          },
          in ->
              new SessionOps.Posted(
                  NEXT_ANSWER.readNullable(in), in.readBoolean(), FAILURE.readNullable(in)));

  static final ClusterCodec<SessionOps.Post> POST =
      ClusterCodec.of(
          SessionOps.Post.class,
          41,
          (out, p) -> {
            MESSAGE.writeNullable(out, p.user());
            NEW_ANSWER.writeNullable(out, p.ids());
            out.writeLong(p.maxTranscriptChars());
            out.writeInt(p.maxQueued());
          },
          in ->
              new SessionOps.Post(
                  MESSAGE.readNullable(in),
                  NEW_ANSWER.readNullable(in),
                  in.readLong(),
                  in.readInt()));

  static final ClusterCodec<SessionOps.Relay> RELAY =
      ClusterCodec.of(
          SessionOps.Relay.class,
          42,
          (out, r) -> {
            out.writeString(r.generation());
            ClusterCodec.writeList(out, r.events(), GENERATION_EVENT::write);
            NEW_ANSWER.writeNullable(out, r.next());
          },
          in ->
              new SessionOps.Relay(
                  in.readString(),
                  ClusterCodec.readList(in, GENERATION_EVENT::read),
                  NEW_ANSWER.readNullable(in)));

  static final ClusterCodec<SessionOps.Relayed> RELAYED_OP =
      ClusterCodec.of(
          SessionOps.Relayed.class,
          43,
          (out, r) -> out.writeString(r.generation()),
          in -> new SessionOps.Relayed(in.readString()));

  static final ClusterCodec<SessionOps.EndAnswer> END_ANSWER =
      ClusterCodec.of(
          SessionOps.EndAnswer.class,
          44,
          (out, e) -> {
            out.writeString(e.messageId());
            out.writeString(e.status());
            out.writeString(e.type());
            FAILURE.writeNullable(out, e.failure());
            NEW_ANSWER.writeNullable(out, e.next());
          },
          in ->
              new SessionOps.EndAnswer(
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  FAILURE.readNullable(in),
                  NEW_ANSWER.readNullable(in)));

  static final ClusterCodec<SessionOps.Stop> STOP =
      ClusterCodec.of(SessionOps.Stop.class, 45, (out, s) -> {}, in -> new SessionOps.Stop());

  static final ClusterCodec<SessionOps.Presence> PRESENCE =
      ClusterCodec.of(
          SessionOps.Presence.class,
          46,
          (out, p) -> {
            out.writeString(p.author());
            out.writeInt(p.change());
            out.writeInt(p.maxParticipants());
          },
          in -> new SessionOps.Presence(in.readString(), in.readInt(), in.readInt()));

  static final ClusterCodec<SessionOps.LeftIfGone> LEFT_IF_GONE =
      ClusterCodec.of(
          SessionOps.LeftIfGone.class,
          47,
          (out, l) -> out.writeString(l.author()),
          in -> new SessionOps.LeftIfGone(in.readString()));

  static final ClusterCodec<SessionOps.Typing> TYPING =
      ClusterCodec.of(
          SessionOps.Typing.class,
          48,
          (out, t) -> {
            out.writeString(t.author());
            out.writeLong(t.nowMillis());
          },
          in -> new SessionOps.Typing(in.readString(), in.readLong()));

  static final ClusterCodec<SessionOps.Tenant> TENANT =
      ClusterCodec.of(SessionOps.Tenant.class, 49, (out, t) -> {}, in -> new SessionOps.Tenant());

  static final ClusterCodec<SessionOps.View> VIEW_OP =
      ClusterCodec.of(SessionOps.View.class, 50, (out, v) -> {}, in -> new SessionOps.View());

  static final ClusterCodec<SessionOps.ReadAfter> READ_AFTER =
      ClusterCodec.of(
          SessionOps.ReadAfter.class,
          51,
          (out, r) -> out.writeLong(r.seq()),
          in -> new SessionOps.ReadAfter(in.readLong()));

  static final ClusterCodec<SessionOps.Summary> SUMMARY_OP =
      ClusterCodec.of(SessionOps.Summary.class, 52, (out, s) -> {}, in -> new SessionOps.Summary());

  /** What the cluster store's listing projection sends back, one per session. */
  static final ClusterCodec<SessionSummary> SUMMARY =
      ClusterCodec.of(
          SessionSummary.class,
          53,
          (out, s) -> {
            out.writeString(s.id());
            out.writeString(s.tenant());
            out.writeString(s.title());
            out.writeString(s.model());
            out.writeLong(s.created());
            out.writeBoolean(s.lastMessageAt() != null);
            if (s.lastMessageAt() != null) {
              out.writeLong(s.lastMessageAt());
            }
            out.writeInt(s.messageCount());
            out.writeBoolean(s.answering());
          },
          in ->
              new SessionSummary(
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readString(),
                  in.readLong(),
                  in.readBoolean() ? in.readLong() : null,
                  in.readInt(),
                  in.readBoolean()));

  public static List<ClusterCodec<?>> all() {
    return List.of(
        MESSAGE,
        EVENT,
        STATE,
        RESULT,
        BATCH,
        NEW_ANSWER,
        NEXT_ANSWER,
        RELAYED,
        VIEW,
        POSTED,
        POST,
        RELAY,
        RELAYED_OP,
        END_ANSWER,
        STOP,
        PRESENCE,
        LEFT_IF_GONE,
        TYPING,
        TENANT,
        VIEW_OP,
        READ_AFTER,
        SUMMARY_OP,
        SUMMARY);
  }
}
