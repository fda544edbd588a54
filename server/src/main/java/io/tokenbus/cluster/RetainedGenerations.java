package io.tokenbus.cluster;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The generations this node finished, oldest to finish first, with what their entries hold: how a
 * node keeps its share of the replicated store within {@code generation.max-retained} and {@code
 * generation.max-retained-bytes}, and which ids it has since forgotten (bounded too). Only
 * bookkeeping, under one lock; the caller removes the entries it is told to. Safe from any thread.
 */
final class RetainedGenerations {

  /** A finished generation as counted: its id, tenant, bytes, and when it was counted. */
  record Finished(String id, String tenant, long bytes, long finishedAtMs) {}

  /** What {@link #add} did: the one counted, and the oldest ones it pushed past a bound. */
  record Added(Finished finished, List<Finished> evicted) {}

  private final int maxRetained;
  private final long maxRetainedBytes;
  private final int maxRemembered;

  /** By id, oldest to finish first. */
  private final LinkedHashMap<String, Finished> finished = new LinkedHashMap<>();

  private long bytes;

  /** Ids this node wrote a tombstone for, oldest first. */
  private final LinkedHashSet<String> remembered = new LinkedHashSet<>();

  RetainedGenerations(int maxRetained, long maxRetainedBytes) {
    this.maxRetained = maxRetained;
    this.maxRetainedBytes = maxRetainedBytes;
    this.maxRemembered = Math.min(maxRetained, 100_000);
  }

  /**
   * Counts a generation this node just finished (once: a retried append finds it counted), and
   * returns the oldest ones now past either bound, to evict. Never the one that just finished: its
   * viewers are still reading it (a single log is bounded by {@code generation.max-events} on its
   * own).
   */
  synchronized Added add(String id, String tenant, long size, long nowMs) {
    List<Finished> out = new ArrayList<>();
    Finished known = finished.get(id);
    if (known != null) {
      return new Added(known, out);
    }
    Finished added = new Finished(id, tenant, size, nowMs);
    finished.put(id, added);
    bytes += size;
    Iterator<Finished> oldest = finished.values().iterator();
    while (finished.size() > 1 && (finished.size() > maxRetained || bytes > maxRetainedBytes)) {
      Finished evicted = oldest.next();
      oldest.remove();
      bytes -= evicted.bytes();
      out.add(evicted);
    }
    return new Added(added, out);
  }

  /**
   * Those counted at or before {@code cutoffMs}, whose retention is over: they all sit at the head
   * (queued as they finish, and all kept the same time), so constant time per one.
   */
  synchronized List<Finished> expireBefore(long cutoffMs) {
    List<Finished> out = new ArrayList<>();
    Iterator<Finished> oldest = finished.values().iterator();
    while (oldest.hasNext()) {
      Finished head = oldest.next();
      if (head.finishedAtMs() > cutoffMs) {
        break;
      }
      oldest.remove();
      bytes -= head.bytes();
      out.add(head);
    }
    return out;
  }

  /**
   * Notes that {@code id}'s tombstone was written; returns the oldest one to delete when more are
   * remembered than allowed, else null.
   */
  synchronized String remember(String id) {
    remembered.add(id);
    if (remembered.size() <= maxRemembered) {
      return null;
    }
    Iterator<String> oldest = remembered.iterator();
    String dropped = oldest.next();
    oldest.remove();
    return dropped;
  }

  synchronized int size() {
    return finished.size();
  }

  synchronized long bytes() {
    return bytes;
  }
}
