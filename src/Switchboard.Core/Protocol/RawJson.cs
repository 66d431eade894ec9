using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Protocol;

/// <summary>
/// A JSON value carried as raw UTF-8 bytes (publication data, client info). It is validated and
/// minified once when it enters the server and written verbatim afterwards, so fan-out never
/// re-encodes it and a value can never break newline framing.
/// </summary>
[JsonConverter(typeof(RawJsonConverter))]
public readonly struct RawJson : IEquatable<RawJson>
{
    private readonly byte[]? _utf8;

    private RawJson(byte[] utf8) => _utf8 = utf8;

    /// <summary>The UTF-8 JSON text; empty when there is no value.</summary>
    public ReadOnlyMemory<byte> Utf8 => _utf8;

    /// <summary>True when no value is present (the field is omitted on the wire).</summary>
    public bool IsEmpty => _utf8 is null || _utf8.Length == 0;

    /// <summary>
    /// Deepest publication data accepted: every envelope the server puts data in (a push, a
    /// history or recovery reply) adds at most four levels, so what subscribers parse stays within
    /// the 64 levels that common JSON parsers (System.Text.Json among them) refuse past.
    /// </summary>
    public const int MaxDataDepth = 60;

    /// <summary>How deeply the value nests: 0 for a scalar, 1 for <c>[]</c> or <c>{}</c>, and so on.</summary>
    public int Depth()
    {
        if (IsEmpty)
        {
            return 0;
        }
        var reader = new Utf8JsonReader(_utf8, new JsonReaderOptions { MaxDepth = 1024 });
        var max = 0;
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                max = Math.Max(max, reader.CurrentDepth + 1);
            }
        }
        return max;
    }

    /// <summary>Validates and minifies a UTF-8 JSON value.</summary>
    /// <exception cref="JsonException">The bytes are not one valid JSON value.</exception>
    public static RawJson Parse(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        var value = FromReader(ref reader);
        if (reader.Read())
        {
            throw new JsonException("Trailing data after the JSON value.");
        }
        return value;
    }

    /// <summary>Validates and minifies a JSON value given as a string.</summary>
    public static RawJson Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));

    /// <summary>Wraps bytes already known to be minified, valid JSON.</summary>
    internal static RawJson FromTrusted(byte[] utf8) => new(utf8);

    /// <summary>Serializes a value with the given type info.</summary>
    internal static RawJson From<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        => new(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo));

    internal static RawJson FromReader(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.None && !reader.Read())
        {
            throw new JsonException("Expected a JSON value.");
        }
        // A pooled document: the value's bytes are copied once, into the array kept below.
        using var document = JsonDocument.ParseValue(ref reader);
        var element = document.RootElement;
        var raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.IndexOfAny((byte)'\n', (byte)'\r') < 0)
        {
            return new RawJson(raw.ToArray());
        }
        // Pretty-printed input: re-write it compactly so it cannot break newline framing.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(raw.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            element.WriteTo(writer);
        }
        return new RawJson(buffer.WrittenSpan.ToArray());
    }

    /// <inheritdoc/>
    public override string ToString() => _utf8 is null ? "" : System.Text.Encoding.UTF8.GetString(_utf8);

    /// <inheritdoc/>
    public bool Equals(RawJson other) => Utf8.Span.SequenceEqual(other.Utf8.Span);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is RawJson other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Utf8.Span);
        return hash.ToHashCode();
    }

    /// <summary>Equality by content.</summary>
    public static bool operator ==(RawJson left, RawJson right) => left.Equals(right);

    /// <summary>Inequality by content.</summary>
    public static bool operator !=(RawJson left, RawJson right) => !left.Equals(right);
}

/// <summary>Reads and writes <see cref="RawJson"/> as an embedded JSON value.</summary>
public sealed class RawJsonConverter : JsonConverter<RawJson>
{
    /// <inheritdoc/>
    public override bool HandleNull => true;

    /// <inheritdoc/>
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => RawJson.FromReader(ref reader);

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value.IsEmpty)
        {
            writer.WriteNullValue();
            return;
        }
        writer.WriteRawValue(value.Utf8.Span, skipInputValidation: true);
    }
}
