package io.tokenbus.bus;

import com.hazelcast.config.SerializerConfig;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.StreamSerializer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Hazelcast serializer of one type tokenbus keeps in the cluster's maps or sends to a partition
 * owner (a stored record, an entry processor, its result): its fields written one by one, so
 * neither Java serialization nor its class descriptors are ever used. The cluster's counterpart of
 * {@link BusCodec}; every codec is registered by {@code cluster.ClusterCodecs}.
 *
 * <p>A {@link StreamSerializer} per type rather than {@code IdentifiedDataSerializable}: the types
 * are records, or keep final fields, which IDS (a no-argument constructor, then {@code readData})
 * could only fill by becoming mutable; and the types themselves stay free of Hazelcast.
 */
public final class ClusterCodec<T> implements StreamSerializer<T> {

  /** Writes one value's fields. */
  @FunctionalInterface
  public interface Writer<T> {
    void write(ObjectDataOutput out, T value) throws IOException;
  }

  /** Reads what the {@link Writer} wrote, in the same order. */
  @FunctionalInterface
  public interface Reader<T> {
    T read(ObjectDataInput in) throws IOException;
  }

  /** Elements a list is presized for at most: a malformed count must not allocate gigabytes. */
  private static final int MAX_PRESIZE = 1024;

  private final Class<?> type;
  private final int typeId;
  private final Writer<T> writer;
  private final Reader<T> reader;

  private ClusterCodec(Class<?> type, int typeId, Writer<T> writer, Reader<T> reader) {
    this.type = type;
    this.typeId = typeId;
    this.writer = writer;
    this.reader = reader;
  }

  /**
   * @param typeId unique among tokenbus's codecs and positive (Hazelcast's own are negative); never
   *     reused for another type, as a member of another version would misread it
   */
  public static <T> ClusterCodec<T> of(
      Class<?> type, int typeId, Writer<T> writer, Reader<T> reader) {
    if (typeId <= 0) {
      throw new IllegalArgumentException("type ids are positive: " + typeId);
    }
    return new ClusterCodec<>(type, typeId, writer, reader);
  }

  public Class<?> type() {
    return type;
  }

  /** This codec as Hazelcast's serialization configuration registers it. */
  public SerializerConfig config() {
    return new SerializerConfig().setTypeClass(type).setImplementation(this);
  }

  @Override
  public int getTypeId() {
    return typeId;
  }

  @Override
  public void write(ObjectDataOutput out, T value) throws IOException {
    writer.write(out, value);
  }

  @Override
  public T read(ObjectDataInput in) throws IOException {
    return reader.read(in);
  }

  /**
   * A value of this type, or null, nested in another without its type id (the caller knows the
   * type): a flag, then its fields.
   */
  public void writeNullable(ObjectDataOutput out, T value) throws IOException {
    out.writeBoolean(value != null);
    if (value != null) {
      writer.write(out, value);
    }
  }

  public T readNullable(ObjectDataInput in) throws IOException {
    return in.readBoolean() ? reader.read(in) : null;
  }

  /** A list as its size (-1 for null) and its elements. */
  public static <E> void writeList(ObjectDataOutput out, List<E> list, Writer<? super E> element)
      throws IOException {
    if (list == null) {
      out.writeInt(-1);
      return;
    }
    out.writeInt(list.size());
    for (E e : list) {
      element.write(out, e);
    }
  }

  public static <E> ArrayList<E> readList(ObjectDataInput in, Reader<? extends E> element)
      throws IOException {
    int size = in.readInt();
    if (size < 0) {
      return null;
    }
    ArrayList<E> list = new ArrayList<>(Math.min(size, MAX_PRESIZE));
    for (int i = 0; i < size; i++) {
      list.add(element.read(in));
    }
    return list;
  }

  /** A list of strings (null allowed for the list and each string). */
  public static void writeStrings(ObjectDataOutput out, List<String> list) throws IOException {
    writeList(out, list, ObjectDataOutput::writeString);
  }

  public static ArrayList<String> readStrings(ObjectDataInput in) throws IOException {
    return readList(in, ObjectDataInput::readString);
  }

  /** String keys to string values, in the map's order, as a count and the pairs. */
  public static void writeStringMap(ObjectDataOutput out, Map<String, String> map)
      throws IOException {
    out.writeInt(map.size());
    for (Map.Entry<String, String> entry : map.entrySet()) {
      out.writeString(entry.getKey());
      out.writeString(entry.getValue());
    }
  }

  public static LinkedHashMap<String, String> readStringMap(ObjectDataInput in) throws IOException {
    int size = in.readInt();
    LinkedHashMap<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i < size; i++) {
      map.put(in.readString(), in.readString());
    }
    return map;
  }
}
