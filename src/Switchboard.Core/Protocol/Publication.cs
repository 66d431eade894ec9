namespace Switchboard.Protocol;

/// <summary>A message published into a channel, as stored in history and delivered to subscribers.</summary>
public sealed class Publication
{
    /// <summary>The payload: a raw JSON value.</summary>
    public RawJson Data { get; set; }

    /// <summary>The publishing client, when a client published it.</summary>
    public ClientInfo? Info { get; set; }

    /// <summary>Position in the channel's stream; 0 when the channel keeps no history.</summary>
    public ulong Offset { get; set; }

    /// <summary>Optional string tags for filtering and metadata.</summary>
    public Dictionary<string, string>? Tags { get; set; }

    /// <summary>Unix time in milliseconds when the server accepted it (0 when not recorded).</summary>
    public long Time { get; set; }

    /// <summary>
    /// The epoch of the stream the offset belongs to (not on the wire: subscribers know it from
    /// their subscribe result). A subscriber at another epoch must resubscribe: its stream was lost.
    /// </summary>
    internal string? Epoch { get; set; }
}

/// <summary>Who a client is: the user, the connection and the optional info attached by tokens.</summary>
public sealed class ClientInfo
{
    /// <summary>The user id; empty for an anonymous client.</summary>
    public string User { get; set; } = "";

    /// <summary>The connection id.</summary>
    public string Client { get; set; } = "";

    /// <summary>Connection info from the connection token.</summary>
    public RawJson ConnInfo { get; set; }

    /// <summary>Channel info from the subscription token.</summary>
    public RawJson ChanInfo { get; set; }
}

/// <summary>A position in a channel's stream: the stream's epoch and an offset in it.</summary>
public sealed record StreamPosition
{
    /// <summary>The offset of the last publication (0 when the stream is empty).</summary>
    public ulong Offset { get; init; }

    /// <summary>Names this instance of the stream; changes when the stream is lost.</summary>
    public string Epoch { get; init; } = "";
}
