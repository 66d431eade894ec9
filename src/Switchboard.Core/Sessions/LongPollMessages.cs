using System.Text.Json;
using System.Text.Json.Serialization;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>The body of <c>POST /connection/long_poll</c> (docs/long-polling.md).</summary>
internal sealed class LongPollRequest
{
    /// <summary>The connection JWT; optional when anonymous connects are allowed.</summary>
    public string? Token { get; set; }

    /// <summary>Channel → the position read up to (empty for "where is the stream now?").</summary>
    public Dictionary<string, LongPollPosition?>? Channels { get; set; }

    /// <summary>How long the poll may hang; null for the configured maximum.</summary>
    public long? TimeoutMs { get; set; }
}

/// <summary>One channel of a poll: its position (both fields or neither) and, for <c>$</c> channels, a subscription token.</summary>
internal sealed class LongPollPosition
{
    public string? Epoch { get; set; }

    public ulong? Offset { get; set; }

    public string? Token { get; set; }
}

/// <summary>One channel of an answer.</summary>
internal sealed class LongPollChannelAnswer
{
    public required string Epoch { get; init; }

    public required ulong Offset { get; init; }

    /// <summary>Null for a channel polled without a position.</summary>
    public bool? Recovered { get; init; }

    public IReadOnlyList<Publication> Publications { get; init; } = [];

    /// <summary>True when the client must hear of this channel at once.</summary>
    public bool IsNews => Publications.Count > 0 || Recovered is not true;
}

/// <summary>Reading and writing the long-poll bodies.</summary>
internal static class LongPollJson
{
    /// <summary>Parses a request body; throws 107 with a message that names what is wrong.</summary>
    public static LongPollRequest ParseRequest(ReadOnlySpan<byte> body)
    {
        LongPollRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(body, LongPollJsonContext.Default.LongPollRequest);
        }
        catch (JsonException e)
        {
            // The serializer's message names the JSON path and the expected type: useful, and
            // nothing of the server's internals (type names are ours, the input is the caller's).
            throw ProtocolException.BadRequest("malformed request: " + Shorten(e.Message));
        }
        catch (InvalidOperationException e)
        {
            throw ProtocolException.BadRequest("malformed request: " + Shorten(e.Message));
        }
        return request ?? throw ProtocolException.BadRequest("malformed request: expected a JSON object");
    }

    private static string Shorten(string message) => message.Length <= 200 ? message : message[..200];

    /// <summary>Writes <c>{"channels": {…}}</c>.</summary>
    public static void WriteAnswer(Utf8JsonWriter writer, IReadOnlyList<(string Channel, LongPollChannelAnswer Answer)> channels)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("channels"u8);
        foreach (var (channel, answer) in channels)
        {
            writer.WriteStartObject(channel);
            writer.WriteString("epoch"u8, answer.Epoch);
            writer.WriteNumber("offset"u8, answer.Offset);
            if (answer.Recovered is { } recovered)
            {
                writer.WriteBoolean("recovered"u8, recovered);
            }
            if (answer.Publications.Count > 0)
            {
                writer.WriteStartArray("publications"u8);
                foreach (var publication in answer.Publications)
                {
                    JsonSerializer.Serialize(writer, publication, ProtocolJsonContext.Default.Publication);
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Writes <c>{"error": {code, message, temporary}}</c>.</summary>
    public static void WriteError(Utf8JsonWriter writer, uint code, string message, bool temporary)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error"u8);
        writer.WriteNumber("code"u8, code);
        writer.WriteString("message"u8, message);
        writer.WriteBoolean("temporary"u8, temporary);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}

/// <summary>
/// Source-generated metadata of the long-poll request: snake_case, duplicate properties refused
/// (a second value must not slip past a check), shallow (nothing in it nests deeper than 3).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    MaxDepth = 8)]
[JsonSerializable(typeof(LongPollRequest))]
internal sealed partial class LongPollJsonContext : JsonSerializerContext;
