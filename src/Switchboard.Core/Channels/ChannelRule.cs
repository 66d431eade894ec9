using Switchboard.Protocol;

namespace Switchboard.Channels;

/// <summary>What a channel name resolves to: its namespace options and name features.</summary>
internal sealed record ChannelRule(
    string Channel,
    string? Namespace,
    ChannelOptions Options,
    bool IsPrivate,
    IReadOnlyList<string>? AllowedUsers)
{
    public bool IsUserLimited => AllowedUsers is not null;

    /// <summary>History settings for a publish into this channel.</summary>
    public Engine.PublishOptions PublishOptions(bool skipHistory = false, string? idempotencyKey = null) => new()
    {
        HistorySize = skipHistory ? 0 : Options.HistorySize,
        HistoryTtl = skipHistory ? TimeSpan.Zero : Options.HistoryTtl,
        HistoryMetaTtl = Options.HistoryMetaTtl,
        IdempotencyKey = idempotencyKey,
    };

    public bool UserAllowed(string user) => AllowedUsers is not null && user.Length > 0 && AllowedUsers.Contains(user);

    internal static ProtocolException Unknown => ProtocolException.UnknownChannel();
}
