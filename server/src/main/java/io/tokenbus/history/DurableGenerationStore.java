package io.tokenbus.history;

import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.GenerationSummary;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The live generation store, with the history behind it: a generation the live store no longer
 * holds (its retention passed, or every node restarted) is read from the database, so {@code GET
 * /v1/generations/{id}} and its events keep answering for {@code database.retention-days}, and a
 * listing includes the finished generations kept there. Everything else is the live store's.
 */
public final class DurableGenerationStore implements GenerationStore {

  /** The ids {@code GenerationIds} makes: nothing else is looked up in the database. */
  private static final Pattern GENERATION_ID = Pattern.compile("chatcmpl-[0-9A-Za-z]{24}");

  private final GenerationStore live;
  private final PgHistory history;

  public DurableGenerationStore(GenerationStore live, PgHistory history) {
    this.live = live;
    this.history = history;
  }

  /** The store generations run in, which the history reads finished logs from. */
  public GenerationStore live() {
    return live;
  }

  private Future<PgHistory.Archived> archived(String id) {
    return GENERATION_ID.matcher(id).matches() ? history.generation(id) : Future.succeededFuture();
  }

  @Override
  public Future<Void> create(GenerationInfo info) {
    return live.create(info);
  }

  @Override
  public Future<GenerationInfo> info(String id) {
    return live.info(id)
        .compose(
            info ->
                info != null
                    ? Future.succeededFuture(info)
                    : archived(id).map(a -> a == null ? null : a.snapshot().info()));
  }

  @Override
  public Future<Void> append(String id, long epoch, List<GenerationEvent> events) {
    return live.append(id, epoch, events);
  }

  @Override
  public Future<List<GenerationEvent>> readAfter(String id, long afterSeq) {
    return live.readAfter(id, afterSeq)
        .compose(
            events ->
                events != null
                    ? Future.succeededFuture(events)
                    : archived(id).map(a -> a == null ? null : a.after(afterSeq)));
  }

  @Override
  public Future<GenerationSnapshot> snapshot(String id) {
    return live.snapshot(id)
        .compose(
            snapshot ->
                snapshot != null
                    ? Future.succeededFuture(snapshot)
                    : archived(id).map(a -> a == null ? null : a.snapshot()));
  }

  @Override
  public Future<Boolean> release(String id, long epoch) {
    return live.release(id, epoch);
  }

  /**
   * The live store's page and the history's, merged: a generation in both (finished, still retained
   * in memory) is listed once, as the live store has it.
   */
  @Override
  public Future<List<GenerationSummary>> list(GenerationQuery query) {
    return live.list(query)
        .compose(
            running ->
                history
                    .list(query)
                    .map(
                        kept -> {
                          Set<String> seen = new HashSet<>();
                          List<GenerationSummary> all = new ArrayList<>(running);
                          running.forEach(s -> seen.add(s.id()));
                          kept.stream().filter(s -> seen.add(s.id())).forEach(all::add);
                          return query.page(all);
                        }));
  }

  @Override
  public Future<String> gone(String id) {
    return live.gone(id);
  }
}
