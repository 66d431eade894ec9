namespace Switchboard.Channels;

/// <summary>
/// Options of a namespace (or of channels without a namespace), with the meaning Centrifugo gives
/// them. Configured under <c>Switchboard:Channel</c> and <c>Switchboard:Namespaces:&lt;name&gt;</c>.
/// </summary>
public sealed class ChannelOptions
{
    /// <summary>Keep presence information (who is subscribed).</summary>
    public bool Presence { get; set; }

    /// <summary>Send join/leave messages to subscribers that ask for them.</summary>
    public bool JoinLeave { get; set; }

    /// <summary>Send join/leave messages to every subscriber, whether it asked or not.</summary>
    public bool ForcePushJoinLeave { get; set; }

    /// <summary>Publications kept in the channel's history; 0 keeps none.</summary>
    public int HistorySize { get; set; }

    /// <summary>How long each publication stays in history; zero keeps none.</summary>
    public TimeSpan HistoryTtl { get; set; }

    /// <summary>How long a stream's epoch and top offset outlive its last publication.</summary>
    public TimeSpan HistoryMetaTtl { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Every subscription is positioned (the server tracks gaps).</summary>
    public bool ForcePositioning { get; set; }

    /// <summary>Clients may ask for positioning.</summary>
    public bool AllowPositioning { get; set; }

    /// <summary>Every subscription is recoverable.</summary>
    public bool ForceRecovery { get; set; }

    /// <summary>Clients may ask for recovery.</summary>
    public bool AllowRecovery { get; set; }

    /// <summary>Any authenticated client may subscribe without a subscription token.</summary>
    public bool AllowSubscribeForClient { get; set; }

    /// <summary>Anonymous clients may subscribe too (with <see cref="AllowSubscribeForClient"/>).</summary>
    public bool AllowSubscribeForAnonymous { get; set; }

    /// <summary>Subscribers may publish.</summary>
    public bool AllowPublishForSubscriber { get; set; }

    /// <summary>Any authenticated client may publish.</summary>
    public bool AllowPublishForClient { get; set; }

    /// <summary>Anonymous clients may publish where publishing is otherwise allowed to them.</summary>
    public bool AllowPublishForAnonymous { get; set; }

    /// <summary>Subscribers may read history.</summary>
    public bool AllowHistoryForSubscriber { get; set; }

    /// <summary>Any authenticated client may read history.</summary>
    public bool AllowHistoryForClient { get; set; }

    /// <summary>Anonymous clients may read history where it is otherwise allowed to them.</summary>
    public bool AllowHistoryForAnonymous { get; set; }

    /// <summary>Subscribers may read presence.</summary>
    public bool AllowPresenceForSubscriber { get; set; }

    /// <summary>Any authenticated client may read presence.</summary>
    public bool AllowPresenceForClient { get; set; }

    /// <summary>Anonymous clients may read presence where it is otherwise allowed to them.</summary>
    public bool AllowPresenceForAnonymous { get; set; }

    /// <summary>Channels like <c>dialogs:chat#alice,bob</c> are open to the users listed after <c>#</c>.</summary>
    public bool AllowUserLimitedChannels { get; set; }

    /// <summary>A regular expression the channel name (after the namespace) must match.</summary>
    public string? ChannelRegex { get; set; }

    /// <summary>True when the channel keeps history.</summary>
    public bool HasHistory => HistorySize > 0 && HistoryTtl > TimeSpan.Zero;
}
