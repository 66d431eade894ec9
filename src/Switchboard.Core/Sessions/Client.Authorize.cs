using Switchboard.Channels;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

internal sealed partial class Client
{
    /// <summary>
    /// Puts a request to the app's <see cref="IChannelAuthorizer"/>s; throws the protocol error of
    /// the first refusal. Null when no authorizer is registered (then nothing is asked or allocated).
    /// </summary>
    private ValueTask<ChannelDecision?> AuthorizeAsync(ChannelOperation operation, ChannelRule rule, RawJson data, CancellationToken ct)
        => _node.ChannelAuthorizers.Length == 0
            ? default
            : AskAuthorizersAsync(operation, rule.Channel, rule.Namespace, data, ct);

    private ValueTask<ChannelDecision?> AuthorizeRpcAsync(string method, RawJson data, CancellationToken ct)
        => _node.ChannelAuthorizers.Length == 0
            ? default
            : AskAuthorizersAsync(ChannelOperation.Rpc, method, null, data, ct);

    private async ValueTask<ChannelDecision?> AskAuthorizersAsync(ChannelOperation operation, string target, string? ns, RawJson data, CancellationToken ct)
    {
        var request = new ChannelRequest(operation, target, ns, data, Context);
        RawJson info = default, attached = default;
        foreach (var authorizer in _node.ChannelAuthorizers)
        {
            var decision = await authorizer.AuthorizeAsync(request, ct).ConfigureAwait(false);
            if (decision.Error is { } error)
            {
                throw new ProtocolException(error.Code, error.Message, error.Temporary);
            }
            info = decision.Info.IsEmpty ? info : decision.Info;
            attached = decision.Data.IsEmpty ? attached : decision.Data;
        }
        return ChannelDecision.Allow(info, attached);
    }
}
