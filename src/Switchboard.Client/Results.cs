using System.Text.Json.Serialization;

namespace Switchboard.Client;

/// <summary>The answer to <see cref="SwitchboardClient.HistoryAsync"/>: a page of publications and the stream's current top.</summary>
public sealed class HistoryResult
{
    /// <summary>The publications of the page, in the order asked for.</summary>
    public IReadOnlyList<Publication> Publications { get; init; } = [];

    /// <summary>The stream's epoch.</summary>
    public string Epoch { get; init; } = "";

    /// <summary>The offset of the newest publication in the stream.</summary>
    public ulong Offset { get; init; }
}

/// <summary>The answer to <see cref="SwitchboardClient.PresenceAsync"/>: who is subscribed to a channel.</summary>
public sealed class PresenceResult
{
    /// <summary>The subscribed connections, by connection id.</summary>
    [JsonPropertyName("presence")]
    public IReadOnlyDictionary<string, ClientInfo> Clients { get; init; } = new Dictionary<string, ClientInfo>();
}

/// <summary>The answer to <see cref="SwitchboardClient.PresenceStatsAsync"/>: how many are subscribed to a channel.</summary>
public sealed class PresenceStats
{
    /// <summary>Subscribed connections.</summary>
    public uint NumClients { get; init; }

    /// <summary>Distinct users among them.</summary>
    public uint NumUsers { get; init; }
}
