package io.tokenbus.cluster;

import static io.tokenbus.bus.EventCodecs.CREATOR;
import static io.tokenbus.bus.EventCodecs.GENERATION_EVENT;
import static io.tokenbus.bus.EventCodecs.SESSION_LINK;

import com.hazelcast.config.SerializationConfig;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import io.tokenbus.bus.ClusterCodec;
import io.tokenbus.bus.EventCodecs;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.generation.Progress;
import io.tokenbus.limits.UsageCodecs;
import io.tokenbus.session.SessionCodecs;
import io.tokenbus.session.SessionOp;
import io.tokenbus.session.SessionQuery;
import io.tokenbus.session.SessionResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * Every type tokenbus puts into Hazelcast, with its {@link ClusterCodec}: the stored generations,
 * sessions and tenants' usage, the entry processors, predicates and aggregations run on them, and
 * their results. Registered on each member's serialization configuration ({@link
 * HazelcastConfigs}), so none of them goes through Java serialization. Type ids, never reused:
 *
 * <ul>
 *   <li>1–19: event records ({@link EventCodecs});
 *   <li>20–29: tenants' usage ({@link UsageCodecs});
 *   <li>30–69: sessions and their ops ({@link SessionCodecs});
 *   <li>70–109: this package's stored generation, processors, predicates, projections and results
 *       (the session store's at 90–99), {@link Progress} and {@link GenerationSummary}.
 * </ul>
 *
 * Members whose codecs differ (another tokenbus version that changed a form) cannot share a
 * cluster.
 */
final class ClusterCodecs {

  private ClusterCodecs() {}

  static final ClusterCodec<Progress> PROGRESS =
      ClusterCodec.of(
          Progress.class,
          70,
          (out, p) -> {
            out.writeLong(p.lastSeq());
            out.writeLong(p.deltas());
            out.writeString(p.text());
            out.writeBoolean(p.toolCalls());
            out.writeBoolean(p.otherOutput());
          },
          in ->
              new Progress(
                  in.readLong(),
                  in.readLong(),
                  in.readString(),
                  in.readBoolean(),
                  in.readBoolean()));

  static final ClusterCodec<StoredGeneration> STORED_GENERATION =
      ClusterCodec.of(
          StoredGeneration.class,
          71,
          (out, g) -> {
            out.writeString(g.id);
            out.writeString(g.model);
            out.writeLong(g.created);
            out.writeString(g.body);
            writeInteger(out, g.maxTokens);
            writeDouble(out, g.mockTokensPerSecond);
            SESSION_LINK.writeNullable(out, g.session);
            CREATOR.writeNullable(out, g.creator);
            ClusterCodec.writeStringMap(out, g.metadata);
            out.writeString(g.owner);
            out.writeString(g.releasedBy);
            out.writeLong(g.epoch);
            ClusterCodec.writeList(out, g.events, GENERATION_EVENT::write);
            out.writeBoolean(g.ended);
          },
          in -> {
            StoredGeneration g =
                new StoredGeneration(
                    in.readString(),
                    in.readString(),
                    in.readLong(),
                    in.readString(),
                    readInteger(in),
                    readDouble(in),
                    SESSION_LINK.readNullable(in),
                    CREATOR.readNullable(in),
                    ClusterCodec.readStringMap(in));
            g.owner = in.readString();
            g.releasedBy = in.readString();
            g.epoch = in.readLong();
            g.events.addAll(ClusterCodec.readList(in, GENERATION_EVENT::read));
            g.ended = in.readBoolean();
            return g;
          });

  static final ClusterCodec<LogProcessors.Create> CREATE =
      ClusterCodec.of(
          LogProcessors.Create.class,
          72,
          (out, c) -> STORED_GENERATION.writeNullable(out, c.generation()),
          in -> new LogProcessors.Create(STORED_GENERATION.readNullable(in)));

  static final ClusterCodec<LogProcessors.Appended> APPENDED =
      ClusterCodec.of(
          LogProcessors.Appended.class,
          73,
          (out, a) -> {
            out.writeInt(a.outcome());
            out.writeBoolean(a.finished());
            out.writeLong(a.bytes());
            out.writeString(a.tenant());
          },
          in ->
              new LogProcessors.Appended(
                  in.readInt(), in.readBoolean(), in.readLong(), in.readString()));

  static final ClusterCodec<LogProcessors.Append> APPEND =
      ClusterCodec.of(
          LogProcessors.Append.class,
          74,
          (out, a) -> {
            out.writeLong(a.epoch());
            ClusterCodec.writeList(out, a.events(), GENERATION_EVENT::write);
            out.writeLong(a.ttlSeconds());
          },
          in ->
              new LogProcessors.Append(
                  in.readLong(), ClusterCodec.readList(in, GENERATION_EVENT::read), in.readLong()));

  static final ClusterCodec<LogProcessors.Evict> EVICT =
      ClusterCodec.of(
          LogProcessors.Evict.class, 75, (out, e) -> {}, in -> new LogProcessors.Evict());

  static final ClusterCodec<LogProcessors.Release> RELEASE =
      ClusterCodec.of(
          LogProcessors.Release.class,
          76,
          (out, r) -> {
            out.writeLong(r.epoch());
            out.writeString(r.node());
          },
          in -> new LogProcessors.Release(in.readLong(), in.readString()));

  static final ClusterCodec<LogProcessors.Orphans> ORPHANS =
      ClusterCodec.of(
          LogProcessors.Orphans.class,
          77,
          (out, o) -> writeSet(out, o.alive()),
          in -> new LogProcessors.Orphans(readSet(in)));

  static final ClusterCodec<LogProcessors.Takeover> TAKEOVER =
      ClusterCodec.of(
          LogProcessors.Takeover.class,
          78,
          (out, t) -> {
            writeSet(out, t.alive());
            out.writeString(t.node());
          },
          in -> new LogProcessors.Takeover(readSet(in), in.readString()));

  static final ClusterCodec<LogProcessors.GenerationInfoData> INFO_DATA =
      ClusterCodec.of(
          LogProcessors.GenerationInfoData.class,
          79,
          (out, i) -> {
            out.writeString(i.id());
            out.writeString(i.model());
            out.writeLong(i.created());
            out.writeString(i.body());
            writeInteger(out, i.maxTokens());
            writeDouble(out, i.rate());
            SESSION_LINK.writeNullable(out, i.session());
            CREATOR.writeNullable(out, i.creator());
            ClusterCodec.writeStringMap(out, i.metadata());
            out.writeString(i.owner());
            out.writeLong(i.epoch());
          },
          in ->
              new LogProcessors.GenerationInfoData(
                  in.readString(),
                  in.readString(),
                  in.readLong(),
                  in.readString(),
                  readInteger(in),
                  readDouble(in),
                  SESSION_LINK.readNullable(in),
                  CREATOR.readNullable(in),
                  ClusterCodec.readStringMap(in),
                  in.readString(),
                  in.readLong()));

  static final ClusterCodec<LogProcessors.TakeoverData> TAKEOVER_DATA =
      ClusterCodec.of(
          LogProcessors.TakeoverData.class,
          80,
          (out, t) -> {
            INFO_DATA.writeNullable(out, t.info());
            PROGRESS.writeNullable(out, t.progress());
          },
          in ->
              new LogProcessors.TakeoverData(
                  INFO_DATA.readNullable(in), PROGRESS.readNullable(in)));

  static final ClusterCodec<LogProcessors.Info> INFO =
      ClusterCodec.of(LogProcessors.Info.class, 81, (out, i) -> {}, in -> new LogProcessors.Info());

  static final ClusterCodec<LogProcessors.ReadAfter> READ_AFTER =
      ClusterCodec.of(
          LogProcessors.ReadAfter.class,
          82,
          (out, r) -> out.writeLong(r.afterSeq()),
          in -> new LogProcessors.ReadAfter(in.readLong()));

  static final ClusterCodec<LogProcessors.Snapshot> SNAPSHOT =
      ClusterCodec.of(
          LogProcessors.Snapshot.class, 83, (out, s) -> {}, in -> new LogProcessors.Snapshot());

  static final ClusterCodec<LogProcessors.SnapshotData> SNAPSHOT_DATA =
      ClusterCodec.of(
          LogProcessors.SnapshotData.class,
          84,
          (out, s) -> {
            INFO_DATA.writeNullable(out, s.info());
            out.writeString(s.text());
            out.writeLong(s.lastSeq());
            out.writeLong(s.lastDeltaSeq());
            GENERATION_EVENT.writeNullable(out, s.terminal());
            out.writeInt(s.recoveries());
            GENERATION_EVENT.writeNullable(out, s.lastRecovery());
          },
          in ->
              new LogProcessors.SnapshotData(
                  INFO_DATA.readNullable(in),
                  in.readString(),
                  in.readLong(),
                  in.readLong(),
                  GENERATION_EVENT.readNullable(in),
                  in.readInt(),
                  GENERATION_EVENT.readNullable(in)));

  static final ClusterCodec<GenerationSummary> SUMMARY =
      ClusterCodec.of(
          GenerationSummary.class,
          85,
          (out, g) -> {
            out.writeString(g.id());
            out.writeString(g.model());
            out.writeLong(g.created());
            out.writeString(g.tenant());
            out.writeString(g.owner());
            out.writeInt(g.status().ordinal());
            ClusterCodec.writeStringMap(out, g.metadata());
          },
          in ->
              new GenerationSummary(
                  in.readString(),
                  in.readString(),
                  in.readLong(),
                  in.readString(),
                  in.readString(),
                  GenerationStatus.values()[in.readInt()],
                  ClusterCodec.readStringMap(in)));

  static final ClusterCodec<LogProcessors.Listed> LISTED =
      ClusterCodec.of(
          LogProcessors.Listed.class,
          86,
          (out, l) -> {
            GenerationQuery q = l.query();
            out.writeString(q.tenant());
            out.writeInt(q.status() == null ? -1 : q.status().ordinal());
            out.writeString(q.model());
            ClusterCodec.writeStringMap(out, q.metadata());
            out.writeInt(q.limit());
            out.writeBoolean(q.after() != null);
            if (q.after() != null) {
              out.writeLong(q.after().created());
              out.writeString(q.after().id());
            }
          },
          in -> {
            String tenant = in.readString();
            int status = in.readInt();
            String model = in.readString();
            Map<String, String> metadata = ClusterCodec.readStringMap(in);
            int limit = in.readInt();
            GenerationQuery.Cursor after =
                in.readBoolean()
                    ? new GenerationQuery.Cursor(in.readLong(), in.readString())
                    : null;
            return new LogProcessors.Listed(
                new GenerationQuery(
                    tenant,
                    status < 0 ? null : GenerationStatus.values()[status],
                    model,
                    metadata,
                    limit,
                    after));
          });

  static final ClusterCodec<LogProcessors.Summarize> SUMMARIZE =
      ClusterCodec.of(
          LogProcessors.Summarize.class, 87, (out, s) -> {}, in -> new LogProcessors.Summarize());

  /** The op and the op's result are any registered type: written whole, with their type ids. */
  @SuppressWarnings({"rawtypes", "unchecked"})
  static final ClusterCodec<HazelcastSessionStore.Run> RUN =
      ClusterCodec.of(
          HazelcastSessionStore.Run.class,
          90,
          (out, r) -> {
            out.writeObject(r.op());
            out.writeLong(r.idleSeconds());
            out.writeLong(r.unusedSeconds());
          },
          in ->
              new HazelcastSessionStore.Run(
                  (SessionOp) in.readObject(), in.readLong(), in.readLong()));

  @SuppressWarnings({"rawtypes", "unchecked"})
  static final ClusterCodec<HazelcastSessionStore.Ran> RAN =
      ClusterCodec.of(
          HazelcastSessionStore.Ran.class,
          91,
          (out, r) -> {
            out.writeObject(r.result());
            out.writeLong(r.grew());
            out.writeString(r.tenant());
          },
          in ->
              new HazelcastSessionStore.Ran(
                  (SessionResult) in.readObject(), in.readLong(), in.readString()));

  static final ClusterCodec<HazelcastSessionStore.TenantSessions> TENANT_SESSIONS =
      ClusterCodec.of(
          HazelcastSessionStore.TenantSessions.class,
          92,
          (out, t) -> {
            out.writeString(t.tenant);
            out.writeInt(t.count);
          },
          in -> {
            HazelcastSessionStore.TenantSessions t =
                new HazelcastSessionStore.TenantSessions(in.readString());
            t.count = in.readInt();
            return t;
          });

  static final ClusterCodec<HazelcastSessionStore.SessionBytes> SESSION_BYTES =
      ClusterCodec.of(
          HazelcastSessionStore.SessionBytes.class,
          93,
          (out, s) -> {
            out.writeInt(s.byTenant.size());
            for (Map.Entry<String, Long> tenant : s.byTenant.entrySet()) {
              out.writeString(tenant.getKey());
              out.writeLong(tenant.getValue());
            }
          },
          in -> {
            HazelcastSessionStore.SessionBytes s = new HazelcastSessionStore.SessionBytes();
            int tenants = in.readInt();
            for (int i = 0; i < tenants; i++) {
              s.byTenant.put(in.readString(), in.readLong());
            }
            return s;
          });

  static final ClusterCodec<HazelcastSessionStore.Listed> SESSIONS_LISTED =
      ClusterCodec.of(
          HazelcastSessionStore.Listed.class,
          94,
          (out, l) -> {
            SessionQuery q = l.query();
            out.writeString(q.tenant());
            out.writeInt(q.limit());
            out.writeBoolean(q.after() != null);
            if (q.after() != null) {
              out.writeLong(q.after().created());
              out.writeString(q.after().id());
            }
          },
          in -> {
            String tenant = in.readString();
            int limit = in.readInt();
            SessionQuery.Cursor after =
                in.readBoolean() ? new SessionQuery.Cursor(in.readLong(), in.readString()) : null;
            return new HazelcastSessionStore.Listed(new SessionQuery(tenant, after, limit));
          });

  static final ClusterCodec<HazelcastSessionStore.Summarize> SESSIONS_SUMMARIZE =
      ClusterCodec.of(
          HazelcastSessionStore.Summarize.class,
          95,
          (out, s) -> {},
          in -> new HazelcastSessionStore.Summarize());

  static final ClusterCodec<HazelcastSessionStore.Remove> SESSIONS_REMOVE =
      ClusterCodec.of(
          HazelcastSessionStore.Remove.class,
          96,
          (out, r) -> {},
          in -> new HazelcastSessionStore.Remove());

  static final ClusterCodec<HazelcastUsageCounters.Request> REQUEST =
      ClusterCodec.of(
          HazelcastUsageCounters.Request.class,
          100,
          (out, r) -> {
            out.writeLong(r.nowMillis());
            out.writeInt(r.perMinute());
            out.writeInt(r.burst());
          },
          in -> new HazelcastUsageCounters.Request(in.readLong(), in.readInt(), in.readInt()));

  static final ClusterCodec<HazelcastUsageCounters.Admit> ADMIT =
      ClusterCodec.of(
          HazelcastUsageCounters.Admit.class,
          101,
          (out, a) -> {
            out.writeString(a.id());
            out.writeLong(a.nowMillis());
            out.writeInt(a.maxRunning());
            out.writeLong(a.quota());
            out.writeLong(a.staleMillis());
          },
          in ->
              new HazelcastUsageCounters.Admit(
                  in.readString(), in.readLong(), in.readInt(), in.readLong(), in.readLong()));

  static final ClusterCodec<HazelcastUsageCounters.End> END =
      ClusterCodec.of(
          HazelcastUsageCounters.End.class,
          102,
          (out, e) -> {
            out.writeString(e.id());
            out.writeLong(e.nowMillis());
            out.writeLong(e.completionTokens());
          },
          in -> new HazelcastUsageCounters.End(in.readString(), in.readLong(), in.readLong()));

  static final ClusterCodec<HazelcastUsageCounters.Seed> SEED =
      ClusterCodec.of(
          HazelcastUsageCounters.Seed.class,
          109,
          (out, e) -> {
            out.writeLong(e.nowMillis());
            out.writeLong(e.tokensToday());
          },
          in -> new HazelcastUsageCounters.Seed(in.readLong(), in.readLong()));

  /** Every codec of every package. */
  static List<ClusterCodec<?>> all() {
    List<ClusterCodec<?>> all = new ArrayList<>();
    all.addAll(EventCodecs.all());
    all.addAll(UsageCodecs.all());
    all.addAll(SessionCodecs.all());
    all.addAll(
        List.of(
            PROGRESS,
            STORED_GENERATION,
            CREATE,
            APPENDED,
            APPEND,
            EVICT,
            RELEASE,
            ORPHANS,
            TAKEOVER,
            INFO_DATA,
            TAKEOVER_DATA,
            INFO,
            READ_AFTER,
            SNAPSHOT,
            SNAPSHOT_DATA,
            SUMMARY,
            LISTED,
            SUMMARIZE,
            RUN,
            RAN,
            TENANT_SESSIONS,
            SESSION_BYTES,
            SESSIONS_LISTED,
            SESSIONS_SUMMARIZE,
            SESSIONS_REMOVE,
            REQUEST,
            ADMIT,
            END,
            SEED));
    return all;
  }

  /** Registers every codec on {@code config}. */
  static SerializationConfig register(SerializationConfig config) {
    for (ClusterCodec<?> codec : all()) {
      config.addSerializerConfig(codec.config());
    }
    return config;
  }

  private static void writeInteger(ObjectDataOutput out, Integer value) throws IOException {
    out.writeBoolean(value != null);
    if (value != null) {
      out.writeInt(value);
    }
  }

  private static Integer readInteger(ObjectDataInput in) throws IOException {
    return in.readBoolean() ? in.readInt() : null;
  }

  private static void writeDouble(ObjectDataOutput out, Double value) throws IOException {
    out.writeBoolean(value != null);
    if (value != null) {
      out.writeDouble(value);
    }
  }

  private static Double readDouble(ObjectDataInput in) throws IOException {
    return in.readBoolean() ? in.readDouble() : null;
  }

  private static void writeSet(ObjectDataOutput out, HashSet<String> set) throws IOException {
    ClusterCodec.writeStrings(out, set == null ? null : new ArrayList<>(set));
  }

  private static HashSet<String> readSet(ObjectDataInput in) throws IOException {
    ArrayList<String> list = ClusterCodec.readStrings(in);
    return list == null ? null : new HashSet<>(list);
  }
}
