using System.Text.Json;

namespace Switchboard.Client;

// The data types a user reads back from the server. They double as wire types (snake_case JSON).

/// <summary>A message published into a channel.</summary>
public sealed class Publication
{
    /// <summary>The payload, a JSON value (<see cref="JsonValueKind.Undefined"/> when the publication has none).</summary>
    public JsonElement Data { get; init; }

    /// <summary>The publishing client, when a client (not the server API) published it.</summary>
    public ClientInfo? Info { get; init; }

    /// <summary>Position in the channel's stream; 0 when the channel keeps no history.</summary>
    public ulong Offset { get; init; }

    /// <summary>Optional string tags set by the publisher.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Unix time in milliseconds when the server accepted it; 0 when not recorded.</summary>
    public long Time { get; init; }
}

/// <summary>Who a client is: the user, the connection and the info attached by its tokens.</summary>
public sealed class ClientInfo
{
    /// <summary>The user id; empty for an anonymous client.</summary>
    public string User { get; init; } = "";

    /// <summary>The connection id.</summary>
    public string Client { get; init; } = "";

    /// <summary>Connection info from the connection token (<see cref="JsonValueKind.Undefined"/> when none).</summary>
    public JsonElement ConnInfo { get; init; }

    /// <summary>Channel info from the subscription token (<see cref="JsonValueKind.Undefined"/> when none).</summary>
    public JsonElement ChanInfo { get; init; }
}

/// <summary>A position in a channel's stream: the stream's epoch and an offset in it.</summary>
public sealed record StreamPosition
{
    /// <summary>The offset of a publication (0 = before the first).</summary>
    public ulong Offset { get; init; }

    /// <summary>Names this instance of the stream; it changes when the stream is lost.</summary>
    public string Epoch { get; init; } = "";
}
