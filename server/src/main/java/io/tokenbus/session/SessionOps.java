package io.tokenbus.session;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/** The operations on a session, each a small serializable value a store runs atomically. */
final class SessionOps {

  private SessionOps() {}

  /**
   * Outcome of posting: the answer to start (or null when queued), or why the message was refused.
   */
  record Posted(SessionState.NextAnswer next, boolean queued, Failure refused)
      implements Serializable {}

  record Post(
      SessionMessage user, SessionState.NewAnswer ids, long maxTranscriptChars, int maxQueued)
      implements SessionOp<Posted> {
    @Override
    public Posted apply(SessionState state, List<SessionEvent> out) {
      if (state.answering != null
          && state.queue.size() >= maxQueued
          && !state.queue.contains(user.id())) {
        return new Posted(
            null,
            false,
            new Failure(
                429,
                "rate_limit_error",
                "queue_full",
                maxQueued
                    + " questions already wait "
                    + "for their answer (sessions.max-queued); post again when the assistant has answered some"));
      }
      if (state.chars + user.content().length() > maxTranscriptChars) {
        return new Posted(
            null,
            false,
            new Failure(
                409,
                "invalid_request_error",
                "session_full",
                "The session's transcript "
                    + "has reached "
                    + maxTranscriptChars
                    + " characters (sessions.max-transcript-chars); start a new session"));
      }
      SessionState.NextAnswer next = state.post(user, ids, out);
      return new Posted(next, next == null, null);
    }
  }

  record Relay(String generation, ArrayList<GenerationEvent> events, SessionState.NewAnswer next)
      implements SessionOp<SessionState.Relayed> {
    @Override
    public SessionState.Relayed apply(SessionState state, List<SessionEvent> out) {
      return state.relay(generation, events, next, out);
    }
  }

  /**
   * The last generation seq copied into the answer that {@code generation} fills, or -1 if it is
   * not the one in progress.
   */
  record Relayed(String generation) implements SessionOp<Long> {
    @Override
    public Long apply(SessionState state, List<SessionEvent> out) {
      for (SessionMessage m : state.messages) {
        if (m.id().equals(state.answering)) {
          return generation.equals(m.generation()) ? state.relayed : -1L;
        }
      }
      return -1L;
    }

    @Override
    public boolean mutates() {
      return false;
    }
  }

  record EndAnswer(
      String messageId, String status, String type, Failure failure, SessionState.NewAnswer next)
      implements SessionOp<SessionState.NextAnswer> {
    @Override
    public SessionState.NextAnswer apply(SessionState state, List<SessionEvent> out) {
      return state.endAnswer(messageId, status, type, failure, next, out);
    }
  }

  /** Gives up the queue; returns the answer in progress, to cancel, or null. */
  record Stop() implements SessionOp<SessionMessage> {
    @Override
    public SessionMessage apply(SessionState state, List<SessionEvent> out) {
      String answering = state.stop();
      return state.messages.stream().filter(m -> m.id().equals(answering)).findFirst().orElse(null);
    }
  }

  /** A connection opens (+1) or closes (−1); a new participant past the limit is refused. */
  record Presence(String author, int change, int maxParticipants) implements SessionOp<Failure> {
    @Override
    public Failure apply(SessionState state, List<SessionEvent> out) {
      if (change > 0
          && !state.participants.containsKey(author)
          && state.participants.size() >= maxParticipants) {
        return new Failure(
            409,
            "invalid_request_error",
            "session_full_of_participants",
            "The session already has "
                + maxParticipants
                + " participants (sessions.max-participants)");
      }
      state.presence(author, change, out);
      return null;
    }
  }

  record LeftIfGone(String author) implements SessionOp<Void> {
    @Override
    public Void apply(SessionState state, List<SessionEvent> out) {
      state.leftIfGone(author, out);
      return null;
    }
  }

  /** True when the typing is to be said (see {@link SessionState#typing}). */
  record Typing(String author, long nowMillis) implements SessionOp<Boolean> {
    @Override
    public Boolean apply(SessionState state, List<SessionEvent> out) {
      return state.typing(author, nowMillis);
    }
  }

  /** The tenant it belongs to: what an access check needs, without copying the transcript. */
  record Tenant() implements SessionOp<String> {
    @Override
    public String apply(SessionState state, List<SessionEvent> out) {
      return state.tenant;
    }

    @Override
    public boolean mutates() {
      return false;
    }
  }

  /** What a listing shows of it: where a page after it starts, without copying the transcript. */
  record Summary() implements SessionOp<SessionSummary> {
    @Override
    public SessionSummary apply(SessionState state, List<SessionEvent> out) {
      return state.summary();
    }

    @Override
    public boolean mutates() {
      return false;
    }
  }

  record View() implements SessionOp<SessionState.View> {
    @Override
    public SessionState.View apply(SessionState state, List<SessionEvent> out) {
      return state.view();
    }

    @Override
    public boolean mutates() {
      return false;
    }
  }

  /** The events after {@code seq}. */
  record ReadAfter(long seq) implements SessionOp<ArrayList<SessionEvent>> {
    @Override
    public ArrayList<SessionEvent> apply(SessionState state, List<SessionEvent> out) {
      int from = (int) Math.min(Math.max(0, seq - state.base), state.log.size());
      return new ArrayList<>(state.log.subList(from, state.log.size()));
    }

    @Override
    public boolean mutates() {
      return false;
    }
  }
}
