using System.Text;

namespace Switchboard.Protocol.Protobuf;

/// <summary>
/// A forward-only reader of the Protobuf wire format over one span. Every malformation — a varint
/// longer than ten bytes or cut short, a length past the end of its message, a field number 0, a
/// group, a known field with the wrong wire type, a string that is not UTF-8 — throws
/// <see cref="DisconnectException"/> (3501) and nothing else. Lengths are checked against the bytes
/// actually present before anything is sliced, so no input makes it allocate more than it holds.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    public const int WireVarint = 0;
    public const int WireFixed64 = 1;
    public const int WireLength = 2;
    public const int WireFixed32 = 5;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool End => _position >= _data.Length;

    /// <summary>Reads the next field's tag; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        if (End)
        {
            field = 0;
            wireType = 0;
            return false;
        }
        var tag = ReadVarint();
        if (tag > uint.MaxValue)
        {
            throw Malformed();
        }
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field == 0)
        {
            throw Malformed();
        }
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw Malformed();
            }
            var b = _data[_position++];
            if (shift == 63 && b > 1)
            {
                throw Malformed(); // the tenth byte may only carry the 64th bit
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw Malformed();
    }

    /// <summary>The payload of a length-delimited field (a string, bytes or a nested message).</summary>
    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw Malformed();
        }
        var slice = _data.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    /// <summary>Skips a field this decoder does not know, whatever its (non-group) wire type.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case WireVarint:
                ReadVarint();
                break;
            case WireFixed64:
                Advance(8);
                break;
            case WireLength:
                ReadLengthDelimited();
                break;
            case WireFixed32:
                Advance(4);
                break;
            default:
                throw Malformed(); // groups (3, 4) are not part of proto3; 6 and 7 do not exist
        }
    }

    public ulong UInt64(int wireType)
    {
        Expect(wireType, WireVarint);
        return ReadVarint();
    }

    // Protobuf truncates a varint to 32 bits for uint32 and int32 fields.
    public uint UInt32(int wireType) => (uint)UInt64(wireType);

    public int Int32(int wireType) => (int)UInt64(wireType);

    public bool Bool(int wireType) => UInt64(wireType) != 0;

    public ReadOnlySpan<byte> Bytes(int wireType)
    {
        Expect(wireType, WireLength);
        return ReadLengthDelimited();
    }

    public string String(int wireType)
    {
        var bytes = Bytes(wireType);
        if (bytes.IsEmpty)
        {
            return "";
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw Malformed(); // proto3 strings are UTF-8
        }
        return Encoding.UTF8.GetString(bytes);
    }

    private void Advance(int count)
    {
        if (_data.Length - _position < count)
        {
            throw Malformed();
        }
        _position += count;
    }

    private static void Expect(int wireType, int expected)
    {
        if (wireType != expected)
        {
            throw Malformed();
        }
    }

    public static DisconnectException Malformed() => new(Disconnect.BadRequest);
}
