using Switchboard.Channels;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// One channel subscription of a client. Until the subscribe reply is queued it is not live:
/// publications that arrive meanwhile are buffered, then merged behind the reply by offset,
/// so recovery loses nothing and delivers nothing twice.
/// </summary>
internal sealed class ClientSubscription(Client client, string channel, ChannelRule rule)
{
    private List<(Publication Pub, ReadOnlyMemory<byte> Bytes)>? _buffer = [];

    /// <summary>What to lock for this subscription's state: the object itself (no separate lock object).</summary>
    public object Lock => this;

    /// <summary>The connection this subscription belongs to.</summary>
    public Client Client { get; } = client;

    /// <summary>
    /// Set once the subscription is removed from its client: the hub may still hold it for a
    /// moment (until its leave completes), but it receives nothing more.
    /// </summary>
    public bool Ended
    {
        get => Volatile.Read(ref _ended);
        set => Volatile.Write(ref _ended, value);
    }

    private bool _ended;
    public string Channel { get; } = channel;
    public ChannelRule Rule { get; } = rule;
    public bool Positioned { get; set; }
    public bool Recoverable { get; set; }
    public bool JoinLeave { get; set; }
    public bool Presence { get; set; }
    public bool ServerSide { get; set; }
    public RawJson ChanInfo { get; set; }
    public DateTimeOffset? ExpireAt { get; set; }

    /// <summary>The offset of the last publication queued to the client (positioned subscriptions).</summary>
    public ulong Offset { get; set; }

    public string Epoch { get; set; } = "";

    /// <summary>The broker's delivery was interrupted before this subscription went live (set with <see cref="Lock"/> held).</summary>
    public bool InterruptedWhileJoining { get; set; }

    /// <summary>Called with <see cref="Lock"/> held.</summary>
    public bool IsLive => _buffer is null;

    /// <summary>Called with <see cref="Lock"/> held, while not live.</summary>
    public void Buffer(Publication pub, ReadOnlyMemory<byte> bytes) => _buffer!.Add((pub, bytes));

    /// <summary>Called with <see cref="Lock"/> held: ends buffering and returns what was buffered.</summary>
    public List<(Publication Pub, ReadOnlyMemory<byte> Bytes)> GoLive()
    {
        var buffered = _buffer ?? [];
        _buffer = null;
        return buffered;
    }
}
