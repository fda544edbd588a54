package io.tokenbus.cluster;

import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.projection.Projection;
import com.hazelcast.query.Predicate;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.SessionLink;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.generation.LogFold;
import io.tokenbus.generation.Progress;
import io.vertx.core.json.JsonObject;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The operations on a stored generation, run as entry processors on the member that owns its
 * partition (and, for writes, again on its backup), so each is atomic and only its result crosses
 * the network. Read-only ones have no backup processor.
 */
final class LogProcessors {

  private LogProcessors() {}

  /** The generation at an entry, or null; a value of another type is unreadable. */
  private static StoredGeneration stored(Map.Entry<String, StoredGeneration> entry) {
    return UnreadableEntryException.value(entry, StoredGeneration.class);
  }

  /** Outcome codes of {@link Append}. */
  static final int APPENDED = 0;

  static final int UNKNOWN = 1;
  static final int STALE_EPOCH = 2;
  static final int ENDED = 3;
  static final int OUT_OF_ORDER = 4;

  /** Creates the entry if absent; true if created. */
  record Create(StoredGeneration generation)
      implements EntryProcessor<String, StoredGeneration, Boolean> {
    @Override
    public Boolean process(Map.Entry<String, StoredGeneration> entry) {
      if (((Map.Entry<?, ?>) entry).getValue() instanceof StoredGeneration) {
        return false;
      }
      entry.setValue(generation); // over nothing, or over a value of another type
      return true;
    }
  }

  /**
   * What an append did: an outcome code, and for one that ended the generation (or a retry of it)
   * what its log now holds and whose it is, for the finishing node's bounds.
   */
  record Appended(int outcome, boolean finished, long bytes, String tenant)
      implements Serializable {
    static final Appended UNKNOWN_GENERATION = new Appended(UNKNOWN, false, 0, null);

    static Appended refused(int outcome) {
      return new Appended(outcome, false, 0, null);
    }
  }

  /** What a finished generation's entry is counted as, besides its events: ids, info, the entry. */
  static final long BASE_BYTES = 512;

  /**
   * Appends consecutive events written at {@code epoch}. A terminal one starts the retention period
   * ({@code ttlSeconds}, a backstop: the finishing node removes it first, see {@link
   * HazelcastGenerationStore}) and cuts the request down to what a status needs (no prompt).
   */
  record Append(long epoch, ArrayList<GenerationEvent> events, long ttlSeconds)
      implements EntryProcessor<String, StoredGeneration, Appended> {
    @Override
    public Appended process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      if (generation == null) {
        return Appended.UNKNOWN_GENERATION;
      }
      if (generation.epoch != epoch) {
        return Appended.refused(STALE_EPOCH);
      }
      long first = events.get(0).seq();
      if (first <= generation.events.size() && alreadyThere(generation)) {
        // A retry of an append that was applied but reported lost (the member answering it left).
        return done(generation);
      }
      if (generation.ended) {
        return Appended.refused(ENDED);
      }
      if (first != generation.events.size() + 1) {
        return Appended.refused(OUT_OF_ORDER);
      }
      generation.events.addAll(events);
      generation.ended = events.get(events.size() - 1).terminal();
      if (generation.ended) {
        generation.dropPrompt();
        ((ExtendedMapEntry<String, StoredGeneration>) entry)
            .setValue(generation, ttlSeconds, TimeUnit.SECONDS);
      } else {
        entry.setValue(generation);
      }
      return done(generation);
    }

    private static Appended done(StoredGeneration generation) {
      if (!generation.ended) {
        return new Appended(APPENDED, false, 0, null);
      }
      long bytes = BASE_BYTES;
      for (GenerationEvent event : generation.events) {
        bytes += event.bytes();
      }
      return new Appended(APPENDED, true, bytes, generation.creator.tenant());
    }

    private boolean alreadyThere(StoredGeneration generation) {
      int from = (int) events.get(0).seq() - 1;
      return from + events.size() <= generation.events.size()
          && generation.events.subList(from, from + events.size()).equals(events);
    }
  }

  /**
   * Removes a finished generation (evicted past a bound, or past its retention); never a running
   * one. True if removed.
   */
  record Evict() implements EntryProcessor<String, StoredGeneration, Boolean> {
    @Override
    public Boolean process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      if (generation == null || !generation.ended) {
        return false;
      }
      entry.setValue(null);
      return true;
    }
  }

  /** Gives up ownership held at {@code epoch} (graceful shutdown): no owner, epoch bumped. */
  record Release(long epoch, String node)
      implements EntryProcessor<String, StoredGeneration, Boolean> {
    @Override
    public Boolean process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      if (generation == null || generation.ended || generation.epoch != epoch) {
        return false;
      }
      generation.owner = null;
      generation.releasedBy = node;
      generation.epoch++;
      entry.setValue(generation);
      return true;
    }
  }

  /** Running generations whose owner is gone (not among {@code alive}) or that were released. */
  record Orphans(HashSet<String> alive) implements Predicate<String, StoredGeneration> {
    @Override
    public boolean apply(Map.Entry<String, StoredGeneration> entry) {
      // No cast as in the processors: a foreign value must not stop the whole sweep.
      return ((Map.Entry<?, ?>) entry).getValue() instanceof StoredGeneration generation
          && !generation.ended
          && (generation.owner == null || !alive.contains(generation.owner));
    }
  }

  /**
   * The generations a listing asks for, tested where they are stored; a value of another type is
   * skipped, so it cannot fail the whole listing.
   */
  record Listed(GenerationQuery query) implements Predicate<String, StoredGeneration> {
    @Override
    public boolean apply(Map.Entry<String, StoredGeneration> entry) {
      return ((Map.Entry<?, ?>) entry).getValue() instanceof StoredGeneration g
          && query.matches(
              g.id,
              g.model,
              g.created,
              g.creator == null ? null : g.creator.tenant(),
              status(g),
              g.metadata);
    }
  }

  /**
   * A stored generation's {@link GenerationSummary}: only that leaves its member, never the log.
   */
  record Summarize() implements Projection<Map.Entry<String, StoredGeneration>, GenerationSummary> {
    @Override
    public GenerationSummary transform(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration g = entry.getValue();
      return new GenerationSummary(
          g.id,
          g.model,
          g.created,
          g.creator == null ? null : g.creator.tenant(),
          g.owner,
          status(g),
          g.metadata);
    }
  }

  private static GenerationStatus status(StoredGeneration g) {
    if (!g.ended || g.events.isEmpty()) {
      return GenerationStatus.RUNNING;
    }
    GenerationEvent last = g.events.get(g.events.size() - 1);
    return last.terminal() ? GenerationStatus.of(last) : GenerationStatus.RUNNING;
  }

  /**
   * Takes an orphan over: compare-and-set of the owner with an epoch bump, so the former owner, if
   * it is only paused, can never append again. Null when it is not (or no longer) an orphan for us.
   */
  record Takeover(HashSet<String> alive, String node)
      implements EntryProcessor<String, StoredGeneration, TakeoverData> {
    @Override
    public TakeoverData process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      if (generation == null
          || generation.ended
          || node.equals(generation.releasedBy)
          || (generation.owner != null && alive.contains(generation.owner))) {
        return null;
      }
      generation.owner = node;
      generation.releasedBy = null;
      generation.epoch++;
      entry.setValue(generation);
      LogFold fold = LogFold.of(generation.events);
      return new TakeoverData(new GenerationInfoData(generation), fold.progress());
    }
  }

  record TakeoverData(GenerationInfoData info, Progress progress) implements Serializable {}

  /** Reads {@link GenerationInfo}, or null. */
  record Info() implements EntryProcessor<String, StoredGeneration, GenerationInfoData> {
    @Override
    public GenerationInfoData process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      return generation == null ? null : new GenerationInfoData(generation);
    }

    @Override
    public EntryProcessor<String, StoredGeneration, GenerationInfoData> getBackupProcessor() {
      return null;
    }
  }

  /** The events after a seq, or null. */
  record ReadAfter(long afterSeq)
      implements EntryProcessor<String, StoredGeneration, ArrayList<GenerationEvent>> {
    @Override
    public ArrayList<GenerationEvent> process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      if (generation == null) {
        return null;
      }
      List<GenerationEvent> events = generation.events;
      int from = (int) Math.min(Math.max(afterSeq, 0), events.size());
      return new ArrayList<>(events.subList(from, events.size()));
    }

    @Override
    public EntryProcessor<String, StoredGeneration, ArrayList<GenerationEvent>>
        getBackupProcessor() {
      return null;
    }
  }

  /** The generation folded where it is stored: only the text and a few numbers travel. */
  record Snapshot() implements EntryProcessor<String, StoredGeneration, SnapshotData> {
    @Override
    public SnapshotData process(Map.Entry<String, StoredGeneration> entry) {
      StoredGeneration generation = stored(entry);
      if (generation == null) {
        return null;
      }
      GenerationSnapshot folded = LogFold.of(generation.events).snapshot(null);
      return new SnapshotData(
          new GenerationInfoData(generation),
          folded.text(),
          folded.lastSeq(),
          folded.lastDeltaSeq(),
          folded.terminal(),
          folded.recoveries(),
          folded.lastRecovery());
    }

    @Override
    public EntryProcessor<String, StoredGeneration, SnapshotData> getBackupProcessor() {
      return null;
    }
  }

  /** {@link GenerationInfo} in a serializable form (its request body is JSON text). */
  record GenerationInfoData(
      String id,
      String model,
      long created,
      String body,
      Integer maxTokens,
      Double rate,
      SessionLink session,
      Creator creator,
      Map<String, String> metadata,
      String owner,
      long epoch)
      implements Serializable {
    GenerationInfoData {
      metadata = GenerationRequest.metadataOf(metadata);
    }

    GenerationInfoData(StoredGeneration g) {
      this(
          g.id,
          g.model,
          g.created,
          g.body,
          g.maxTokens,
          g.mockTokensPerSecond,
          g.session,
          g.creator,
          g.metadata,
          g.owner,
          g.epoch);
    }

    GenerationInfo toInfo() {
      return new GenerationInfo(
          id,
          model,
          created,
          new GenerationRequest(
              model, new JsonObject(body), maxTokens, rate, session, creator, metadata),
          owner,
          epoch);
    }
  }

  record SnapshotData(
      GenerationInfoData info,
      String text,
      long lastSeq,
      long lastDeltaSeq,
      GenerationEvent terminal,
      int recoveries,
      GenerationEvent lastRecovery)
      implements Serializable {
    GenerationSnapshot toSnapshot() {
      return new GenerationSnapshot(
          info.toInfo(), text, lastSeq, lastDeltaSeq, terminal, recoveries, lastRecovery);
    }
  }
}
