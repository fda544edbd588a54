package io.tokenbus.feed;

import io.tokenbus.auth.Principal;
import io.tokenbus.fanout.WebSocketFrames;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A node's view of the whole cluster for its dashboards: every running generation (what it is, its
 * tokens, tokens per second, recoveries, its viewers on every node) and every node's last report,
 * built from what each node publishes ({@link GenerationFeed}) and kept on one loop. A watcher that
 * arrives gets the current state first, then every change; each change is framed once for the node
 * and shared by every watcher it concerns.
 *
 * <p>A generation no node has reported for {@link #LOST_MS} (its owner died, and nobody took it
 * over yet) is looked up in the store: ended, it is told as finished; else it waits. A node not
 * heard from for {@link #NODE_GONE_MS} is told as gone.
 */
public final class Board {

  static final long NODE_GONE_MS = 3000;
  static final long LOST_MS = 5000;

  private final Vertx vertx;
  private final GenerationStore store;
  private final int maxPending;
  private Context context;
  private final Map<String, Entry> generations = new LinkedHashMap<>();
  private final Map<String, NodeState> nodes = new LinkedHashMap<>();
  private final List<Watcher> watchers = new ArrayList<>();
  private final Set<String> learning = new HashSet<>();

  /**
   * Ids finished lately, oldest first: a node's report taken just before a generation finished may
   * arrive after its end, and must not bring it back.
   */
  private final LinkedHashSet<String> finishedLately = new LinkedHashSet<>();

  static final int FINISHED_REMEMBERED = 4096;
  private final Promise<Void> ready = Promise.promise();

  /**
   * @param maxPending frames a slow watcher may have waiting ({@code websocket.max-feed-pending})
   */
  public Board(Vertx vertx, GenerationStore store, int maxPending) {
    this.vertx = vertx;
    this.store = store;
    this.maxPending = maxPending;
  }

  /**
   * Starts listening, on an event-loop context of its own. Called once the node's verticles are
   * deployed: a context made before them would shift Vert.x's round-robin of loops, and a request's
   * HTTP verticle would no longer share its loop with a generation worker.
   */
  public Future<Void> start() {
    context = ((VertxInternal) vertx).createEventLoopContext();
    context.runOnContext(
        v -> {
          Future.all(
                  vertx
                      .eventBus()
                      .<JsonObject>consumer(GenerationFeed.GENERATIONS, this::onGeneration)
                      .completion(),
                  vertx
                      .eventBus()
                      .<JsonObject>consumer(GenerationFeed.NODES, this::onReport)
                      .completion())
              .<Void>mapEmpty()
              .onComplete(ready);
          vertx.setPeriodic(1000, t -> expire());
        });
    return ready.future();
  }

  /** One running generation as this node knows it. */
  private static final class Entry {
    final JsonObject described;
    long tokens;
    double tokensPerSecond;
    int recoveries;
    Long firstTokenMs;
    final Map<String, Integer> viewersByNode = new HashMap<>();
    long reportedAt = System.currentTimeMillis();
    boolean checking;

    Entry(JsonObject described) {
      this.described = described;
    }

    String id() {
      return described.getString("id");
    }

    int viewers() {
      int sum = 0;
      for (int count : viewersByNode.values()) {
        sum += count;
      }
      return sum;
    }
  }

  private record NodeState(Buffer frame, long seenAt) {}

  /** Starts a watch on the caller's loop: the current state, then every change. */
  public Watcher watch(
      Watcher.Feed feed,
      Principal caller,
      String model,
      Map<String, String> metadata,
      Watcher.Sink sink) {
    Watcher watcher =
        new Watcher(
            this, feed, caller, model, metadata, vertx.getOrCreateContext(), sink, maxPending);
    ready
        .future()
        .onSuccess(
            started ->
                context.runOnContext(
                    v -> {
                      if (!watcher.stopped()) {
                        watchers.add(watcher);
                        sendState(watcher);
                      }
                    }));
    return watcher;
  }

  public void unwatch(Watcher watcher) {
    watcher.stop();
    ready.future().onSuccess(started -> context.runOnContext(v -> watchers.remove(watcher)));
  }

  /** A watcher that overflowed: it is told to start over, and gets the state again. */
  void resend(Watcher watcher) {
    context.runOnContext(
        v -> {
          if (!watcher.stopped()) {
            watcher.restart();
            watcher.offerState(
                "reset",
                frame(
                    new JsonObject().put("type", "feed.reset").put("feed", watcher.feed.wireName)));
            sendState(watcher);
          }
        });
  }

  private void sendState(Watcher watcher) {
    JsonObject watching =
        new JsonObject().put("type", "watching").put("feed", watcher.feed.wireName);
    if (watcher.feed == Watcher.Feed.CLUSTER) {
      nodes.forEach((node, state) -> watcher.offerState("node/" + node, state.frame()));
      watcher.offerState("watching", frame(watching.put("nodes", nodes.size())));
      return;
    }
    int running = 0;
    for (Entry entry : generations.values()) {
      if (watcher.matches(entry.described)) {
        running++;
        watcher.offerState(entry.id() + "/started", frame(started(entry)));
      }
    }
    watcher.offerState("watching", frame(watching.put("running", running)));
  }

  private static JsonObject started(Entry entry) {
    return entry
        .described
        .copy()
        .put("type", "generation.started")
        .put("tokens", entry.tokens)
        .put("tokens_per_second", entry.tokensPerSecond)
        .put("viewers", entry.viewers())
        .put("recoveries", entry.recoveries);
  }

  private void onGeneration(Message<JsonObject> message) {
    JsonObject event = message.body();
    String id = event.getString("id");
    if ("started".equals(event.getString("event"))) {
      Entry known = generations.get(id);
      Entry entry = new Entry(describedOf(event));
      if (known != null) { // taken over: same generation, another node
        entry.tokens = known.tokens;
        entry.recoveries = known.recoveries;
        entry.firstTokenMs = known.firstTokenMs;
        entry.viewersByNode.putAll(known.viewersByNode);
      }
      generations.put(id, entry);
      if (known == null) {
        Buffer frame = frame(started(entry));
        for (Watcher watcher : generationWatchers(entry.described)) {
          watcher.offer(id + "/started", frame);
        }
      } else {
        progress(entry);
      }
    } else {
      Entry entry = generations.remove(id);
      rememberFinished(id);
      finished(entry == null ? describedOf(event) : entry.described, event);
    }
  }

  private void rememberFinished(String id) {
    finishedLately.add(id);
    if (finishedLately.size() > FINISHED_REMEMBERED) {
      Iterator<String> oldest = finishedLately.iterator();
      oldest.next();
      oldest.remove();
    }
  }

  private void finished(JsonObject described, JsonObject event) {
    String id = described.getString("id");
    JsonObject finished =
        described
            .copy()
            .put("type", "generation.finished")
            .put("status", event.getString("status"))
            .put("usage", event.getValue("usage"))
            .put("time_to_first_token_ms", event.getValue("time_to_first_token_ms"))
            .put("duration_ms", event.getValue("duration_ms"))
            .put("tokens", event.getValue("tokens"))
            .put("recoveries", event.getValue("recoveries"));
    Buffer frame = null;
    for (Watcher watcher : generationWatchers(described)) {
      frame = frame == null ? frame(finished) : frame;
      watcher.offer(id + "/finished", frame, id + "/progress");
    }
  }

  private static JsonObject describedOf(JsonObject event) {
    JsonObject described = event.copy();
    described.remove("event");
    described.remove("resumed");
    described.remove("status");
    described.remove("usage");
    described.remove("time_to_first_token_ms");
    described.remove("duration_ms");
    described.remove("tokens");
    described.remove("recoveries");
    return described;
  }

  private void onReport(Message<JsonObject> message) {
    JsonObject report = message.body();
    String node = report.getString("node");
    long now = System.currentTimeMillis();
    JsonArray progress = (JsonArray) report.remove("progress");
    JsonObject viewersOf = (JsonObject) report.remove("viewers_of");
    JsonObject snapshot = report.copy().put("type", "cluster.node");
    Buffer nodeFrame = frame(snapshot);
    nodes.put(node, new NodeState(nodeFrame, now));
    for (Watcher watcher : watchers) {
      if (watcher.feed == Watcher.Feed.CLUSTER) {
        watcher.offer("node/" + node, nodeFrame);
      }
    }
    Set<Entry> changed = new LinkedHashSet<>();
    for (Entry entry : generations.values()) {
      Integer count = viewersOf == null ? null : (Integer) viewersOf.getValue(entry.id());
      Integer before =
          count == null ? entry.viewersByNode.remove(node) : entry.viewersByNode.put(node, count);
      if (before == null ? count != null : !before.equals(count)) {
        changed.add(entry);
      }
    }
    if (progress != null) {
      for (int i = 0; i < progress.size(); i++) {
        JsonObject p = progress.getJsonObject(i);
        Entry entry = generations.get(p.getString("id"));
        if (entry == null) {
          if (!finishedLately.contains(p.getString("id"))) {
            learn(p.getString("id")); // it started before this node listened
          }
          continue;
        }
        entry.reportedAt = now;
        long tokens = p.getLong("tokens");
        double tps = p.getDouble("tokens_per_second");
        entry.recoveries = p.getInteger("recoveries");
        entry.firstTokenMs = p.getLong("time_to_first_token_ms");
        if (tokens != entry.tokens || tps != entry.tokensPerSecond) {
          changed.add(entry);
        }
        entry.tokens = tokens;
        entry.tokensPerSecond = tps;
      }
    }
    for (Entry entry : changed) {
      progress(entry);
    }
  }

  /** A generation some node runs that this one has not heard start: read what it is. */
  private void learn(String id) {
    if (!learning.add(id)) {
      return;
    }
    store
        .snapshot(id)
        .onComplete(
            ar ->
                context.runOnContext(
                    v -> {
                      learning.remove(id);
                      if (ar.succeeded()
                          && ar.result() != null
                          && ar.result().terminal() == null
                          && !finishedLately.contains(id)
                          && !generations.containsKey(id)) {
                        Entry entry = new Entry(GenerationFeed.describe(ar.result().info()));
                        generations.put(id, entry);
                        Buffer frame = frame(started(entry));
                        for (Watcher watcher : generationWatchers(entry.described)) {
                          watcher.offer(id + "/started", frame);
                        }
                      }
                    }));
  }

  private void progress(Entry entry) {
    String id = entry.id();
    JsonObject progress =
        new JsonObject()
            .put("type", "generation.progress")
            .put("id", id)
            .put("node", entry.described.getString("node"))
            .put("tokens", entry.tokens)
            .put("tokens_per_second", entry.tokensPerSecond)
            .put("viewers", entry.viewers())
            .put("recoveries", entry.recoveries)
            .put("time_to_first_token_ms", entry.firstTokenMs);
    Buffer frame = null;
    for (Watcher watcher : generationWatchers(entry.described)) {
      frame = frame == null ? frame(progress) : frame;
      watcher.offer(id + "/progress", frame);
    }
  }

  private List<Watcher> generationWatchers(JsonObject described) {
    List<Watcher> out = new ArrayList<>();
    for (Watcher watcher : watchers) {
      if (watcher.feed == Watcher.Feed.GENERATIONS && watcher.matches(described)) {
        out.add(watcher);
      }
    }
    return out;
  }

  /** Nodes gone silent are told as gone; generations nobody reports are looked up. */
  private void expire() {
    long now = System.currentTimeMillis();
    Iterator<Map.Entry<String, NodeState>> it = nodes.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<String, NodeState> node = it.next();
      if (now - node.getValue().seenAt() > NODE_GONE_MS) {
        it.remove();
        for (Entry entry : generations.values()) {
          if (entry.viewersByNode.remove(node.getKey()) != null) {
            progress(entry); // its viewers there are gone with it
          }
        }
        Buffer frame =
            frame(new JsonObject().put("type", "cluster.node_left").put("node", node.getKey()));
        for (Watcher watcher : watchers) {
          if (watcher.feed == Watcher.Feed.CLUSTER) {
            watcher.offer("node/" + node.getKey(), frame);
          }
        }
      }
    }
    for (Entry entry : generations.values()) {
      if (now - entry.reportedAt > LOST_MS && !entry.checking) {
        entry.checking = true;
        String id = entry.id();
        store
            .snapshot(id)
            .onComplete(
                ar ->
                    context.runOnContext(
                        v -> {
                          entry.checking = false;
                          entry.reportedAt = System.currentTimeMillis();
                          if (ar.succeeded()
                              && (ar.result() == null || ar.result().terminal() != null)
                              && generations.remove(id, entry)) {
                            rememberFinished(id);
                            JsonObject end = new JsonObject();
                            if (ar.result() == null) {
                              end.put("status", "expired");
                            } else {
                              end.put(
                                  "status", GenerationStatus.of(ar.result().terminal()).wireName());
                            }
                            finished(entry.described, end.put("tokens", entry.tokens));
                          }
                        }));
      }
    }
  }

  private static Buffer frame(JsonObject json) {
    return WebSocketFrames.text(json.encode());
  }
}
