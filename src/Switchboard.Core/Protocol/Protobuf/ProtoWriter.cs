using System.Text;

namespace Switchboard.Protocol.Protobuf;

/// <summary>
/// Writes the Protobuf wire format in one pass into a buffer reused by the thread. A nested
/// message gets one byte reserved for its length; when the finished body needs a longer varint
/// the body is moved up (rare: only bodies of 128 bytes or more, and only by a few bytes).
/// Zero values are omitted, as proto3 does.
/// </summary>
internal sealed class ProtoWriter
{
    // Kept per thread for reuse; a buffer grown past this for one huge message is not kept.
    private const int KeepBytes = 64 * 1024;

    [ThreadStatic]
    private static ProtoWriter? t_cached;

    private byte[] _buffer = new byte[1024];
    private int _length;

    /// <summary>A writer for this thread, emptied; hand it back with <see cref="Release"/>.</summary>
    public static ProtoWriter Rent()
    {
        var writer = t_cached ?? new ProtoWriter();
        t_cached = null;
        writer._length = 0;
        return writer;
    }

    public static void Release(ProtoWriter writer)
    {
        if (writer._buffer.Length <= KeepBytes)
        {
            t_cached = writer;
        }
    }

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    public void Tag(int field, int wireType) => Varint((ulong)((uint)field << 3 | (uint)wireType));

    public void Varint(ulong value)
    {
        Ensure(10);
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_length++] = (byte)value;
    }

    public void UInt64(int field, ulong value)
    {
        if (value != 0)
        {
            Tag(field, ProtoReader.WireVarint);
            Varint(value);
        }
    }

    public void UInt32(int field, uint value) => UInt64(field, value);

    // int64 is the two's complement as a varint (negative values take ten bytes).
    public void Int64(int field, long value) => UInt64(field, (ulong)value);

    public void Bool(int field, bool value) => UInt64(field, value ? 1UL : 0UL);

    public void String(int field, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Tag(field, ProtoReader.WireLength);
        if (max < 128)
        {
            // One length byte suffices: write in place and fill the length in afterwards.
            Ensure(1 + max);
            var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length + 1));
            _buffer[_length] = (byte)written;
            _length += 1 + written;
            return;
        }
        var count = Encoding.UTF8.GetByteCount(value);
        Varint((ulong)count);
        Ensure(count);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return;
        }
        Tag(field, ProtoReader.WireLength);
        Varint((ulong)value.Length);
        Ensure(value.Length);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
    }

    /// <summary>Starts a nested message (field 0: a top-level message with only its length prefix).</summary>
    public int BeginMessage(int field)
    {
        if (field != 0)
        {
            Tag(field, ProtoReader.WireLength);
        }
        Ensure(1);
        _length++;
        return _length;
    }

    /// <summary>Ends the message begun at <paramref name="start"/>: writes its length before it.</summary>
    public void EndMessage(int start)
    {
        var bodyLength = _length - start;
        var prefix = VarintSize((ulong)bodyLength);
        if (prefix > 1)
        {
            Ensure(prefix - 1);
            _buffer.AsSpan(start, bodyLength).CopyTo(_buffer.AsSpan(start + prefix - 1));
            _length += prefix - 1;
        }
        var at = start - 1;
        var value = (ulong)bodyLength;
        while (value >= 0x80)
        {
            _buffer[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[at] = (byte)value;
    }

    private static int VarintSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    private void Ensure(int more)
    {
        if (_buffer.Length - _length >= more)
        {
            return;
        }
        var larger = new byte[Math.Max(_buffer.Length * 2, _length + more)];
        _buffer.AsSpan(0, _length).CopyTo(larger);
        _buffer = larger;
    }
}
