using Google.Protobuf;
using Xunit;

namespace Switchboard.Testing;

/// <summary>
/// Builds and reads Protobuf bytes with Google.Protobuf's CodedOutputStream and CodedInputStream:
/// an implementation independent of the server's codec, to check it against.
/// </summary>
internal static class ProtoWire
{
    /// <summary>A message from (field, value) pairs: uint/ulong/int/long/bool as varints, string, byte[] (bytes or a nested message).</summary>
    public static byte[] Msg(params (int Field, object Value)[] fields)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        foreach (var (field, value) in fields)
        {
            switch (value)
            {
                case bool b: output.WriteTag(field, WireFormat.WireType.Varint); output.WriteBool(b); break;
                case uint u: output.WriteTag(field, WireFormat.WireType.Varint); output.WriteUInt32(u); break;
                case ulong ul: output.WriteTag(field, WireFormat.WireType.Varint); output.WriteUInt64(ul); break;
                case int i: output.WriteTag(field, WireFormat.WireType.Varint); output.WriteInt32(i); break;
                case long l: output.WriteTag(field, WireFormat.WireType.Varint); output.WriteInt64(l); break;
                case string s: output.WriteTag(field, WireFormat.WireType.LengthDelimited); output.WriteString(s); break;
                case byte[] bytes: output.WriteTag(field, WireFormat.WireType.LengthDelimited); output.WriteBytes(ByteString.CopyFrom(bytes)); break;
                default: throw new ArgumentException($"unsupported value {value}");
            }
        }
        output.Flush();
        return stream.ToArray();
    }

    public static byte[] Json(string json) => System.Text.Encoding.UTF8.GetBytes(json);

    /// <summary>Messages each prefixed with its varint length, concatenated: one frame.</summary>
    public static byte[] Frame(params byte[][] messages)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        foreach (var message in messages)
        {
            output.WriteBytes(ByteString.CopyFrom(message));
        }
        output.Flush();
        return stream.ToArray();
    }

    /// <summary>Splits a frame into its length-prefixed messages, each parsed.</summary>
    public static List<Fields> Unframe(ReadOnlySpan<byte> frame)
    {
        var input = new CodedInputStream(frame.ToArray());
        var messages = new List<Fields>();
        while (!input.IsAtEnd)
        {
            messages.Add(Parse(input.ReadBytes().ToByteArray()));
        }
        return messages;
    }

    public static Fields Parse(byte[] message)
    {
        var fields = new Fields();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            object value = WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.Varint => input.ReadUInt64(),
                WireFormat.WireType.LengthDelimited => input.ReadBytes().ToByteArray(),
                WireFormat.WireType.Fixed32 => (ulong)input.ReadFixed32(),
                WireFormat.WireType.Fixed64 => input.ReadFixed64(),
                _ => throw new InvalidOperationException("unexpected wire type"),
            };
            fields.Add(field, value);
        }
        return fields;
    }
}

/// <summary>A parsed message: every value of every field, in order.</summary>
internal sealed class Fields
{
    private readonly Dictionary<int, List<object>> _values = [];

    public void Add(int field, object value)
    {
        if (!_values.TryGetValue(field, out var list))
        {
            _values[field] = list = [];
        }
        list.Add(value);
    }

    public IEnumerable<int> Numbers => _values.Keys.Order();

    public bool Has(int field) => _values.ContainsKey(field);

    public ulong U(int field) => _values.TryGetValue(field, out var v) ? (ulong)Assert.Single(v) : 0;

    public long L(int field) => (long)U(field);

    public bool B(int field) => U(field) != 0;

    public byte[] Bytes(int field) => _values.TryGetValue(field, out var v) ? (byte[])Assert.Single(v) : [];

    public string S(int field) => System.Text.Encoding.UTF8.GetString(Bytes(field));

    public Fields M(int field) => ProtoWire.Parse(Bytes(field));

    public List<Fields> Ms(int field) => _values.TryGetValue(field, out var v) ? v.Select(x => ProtoWire.Parse((byte[])x)).ToList() : [];

    /// <summary>A map field's entries (key = 1, value = 2 as raw bytes).</summary>
    public Dictionary<string, byte[]> Map(int field) => Ms(field).ToDictionary(e => e.S(1), e => e.Bytes(2));
}
