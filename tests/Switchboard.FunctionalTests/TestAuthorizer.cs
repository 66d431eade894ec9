using System.Collections.Concurrent;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.FunctionalTests;

/// <summary>
/// An app's channel authorizer, like the chat's room membership check: channels of namespace
/// <c>club</c> are open to the members of their room only, members get their role attached, and
/// a publication with a <c>secret</c> field is replaced by a redacted one.
/// Any RPC by user <c>mallory</c> is refused with the app's own code 4003. Everything else is
/// allowed untouched. Every request it sees is recorded.
/// </summary>
internal sealed class ClubAuthorizer : IChannelAuthorizer
{
    public const uint Banned = 4003;

    private static readonly Dictionary<string, string[]> Members = new(StringComparer.Ordinal)
    {
        ["club:lounge"] = ["alice", "bob"],
    };

    public ConcurrentQueue<ChannelRequest> Seen { get; } = new();

    public ValueTask<ChannelDecision> AuthorizeAsync(ChannelRequest request, CancellationToken cancellationToken)
    {
        Seen.Enqueue(request);
        if (request.Operation == ChannelOperation.Rpc)
        {
            return ValueTask.FromResult(request.Client.User == "mallory" ? ChannelDecision.Deny(Banned, "banned") : ChannelDecision.Allow());
        }
        if (request.Namespace != "club")
        {
            return ValueTask.FromResult(ChannelDecision.Allow());
        }
        var user = request.Client.User;
        if (!Members.TryGetValue(request.Target, out var members) || !members.Contains(user))
        {
            return ValueTask.FromResult(ChannelDecision.Deny());
        }
        return ValueTask.FromResult(request.Operation switch
        {
            ChannelOperation.Subscribe => ChannelDecision.Allow(
                info: RawJson.Parse($"{{\"role\":\"{(user == "alice" ? "host" : "member")}\"}}"),
                data: RawJson.Parse("{\"welcome\":\"lounge\"}")),
            ChannelOperation.Publish => ChannelDecision.Allow(
                info: RawJson.Parse($"{{\"checked\":\"{user}\"}}"),
                data: request.Data.ToString().Contains("\"secret\"", StringComparison.Ordinal) ? RawJson.Parse("{\"text\":\"[redacted]\"}") : default),
            _ => ChannelDecision.Allow(),
        });
    }
}
