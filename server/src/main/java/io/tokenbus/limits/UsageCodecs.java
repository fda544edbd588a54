package io.tokenbus.limits;

import io.tokenbus.bus.ClusterCodec;
import java.util.List;
import java.util.Map;

/**
 * The cluster codecs of a tenant's usage and what counting it answers: type ids 20 to 29 (the
 * ranges are listed in {@code cluster.ClusterCodecs}). Here, not in the cluster package, because
 * the record's fields are its own.
 */
public final class UsageCodecs {

  private UsageCodecs() {}

  static final ClusterCodec<TenantUsage> TENANT_USAGE =
      ClusterCodec.of(
          TenantUsage.class,
          20,
          (out, u) -> {
            out.writeLong(u.tat);
            out.writeLong(u.day);
            out.writeLong(u.tokens);
            out.writeInt(u.running.size());
            for (Map.Entry<String, Long> slot : u.running.entrySet()) {
              out.writeString(slot.getKey());
              out.writeLong(slot.getValue());
            }
          },
          in -> {
            TenantUsage u = new TenantUsage();
            u.tat = in.readLong();
            u.day = in.readLong();
            u.tokens = in.readLong();
            int running = in.readInt();
            for (int i = 0; i < running; i++) {
              u.running.put(in.readString(), in.readLong());
            }
            return u;
          });

  static final ClusterCodec<TenantUsage.RequestCount> REQUEST_COUNT =
      ClusterCodec.of(
          TenantUsage.RequestCount.class,
          21,
          (out, c) -> {
            out.writeBoolean(c.allowed());
            out.writeInt(c.limit());
            out.writeInt(c.remaining());
            out.writeLong(c.resetMillis());
            out.writeLong(c.retryAfterMillis());
            out.writeLong(c.tokensToday());
          },
          in ->
              new TenantUsage.RequestCount(
                  in.readBoolean(),
                  in.readInt(),
                  in.readInt(),
                  in.readLong(),
                  in.readLong(),
                  in.readLong()));

  static final ClusterCodec<TenantUsage.Admission> ADMISSION =
      ClusterCodec.of(
          TenantUsage.Admission.class,
          22,
          (out, a) -> {
            out.writeInt(a.verdict());
            out.writeInt(a.running());
            out.writeLong(a.tokensToday());
          },
          in -> new TenantUsage.Admission(in.readInt(), in.readInt(), in.readLong()));

  public static List<ClusterCodec<?>> all() {
    return List.of(TENANT_USAGE, REQUEST_COUNT, ADMISSION);
  }
}
