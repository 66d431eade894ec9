using System.Collections.Frozen;
using Microsoft.Extensions.DependencyInjection;

namespace Switchboard.Sessions;

/// <summary>
/// The app's RPC and send handlers and channel authorizers, resolved on first use rather than when the node is built,
/// so a handler may itself depend on <see cref="Api.ServerApi"/> (which depends on the node).
/// </summary>
internal sealed class Handlers
{
    private readonly Lazy<FrozenDictionary<string, IRpcHandler>> _rpc;
    private readonly Lazy<ISendHandler[]> _send;
    private readonly Lazy<IChannelAuthorizer[]> _authorizers;

    public Handlers(IServiceProvider services)
        : this(() => services.GetServices<IRpcHandler>(), () => services.GetServices<ISendHandler>(), () => services.GetServices<IChannelAuthorizer>())
    {
    }

    public Handlers(Func<IEnumerable<IRpcHandler>> rpc, Func<IEnumerable<ISendHandler>> send, Func<IEnumerable<IChannelAuthorizer>>? authorizers = null)
    {
        _rpc = new(() => rpc().ToFrozenDictionary(h => h.Method, StringComparer.Ordinal));
        _send = new(() => [.. send()]);
        _authorizers = new(() => authorizers is null ? [] : [.. authorizers()]);
    }

    public static Handlers None { get; } = new(() => [], () => []);

    public IRpcHandler? Rpc(string method) => _rpc.Value.GetValueOrDefault(method);

    public IReadOnlyList<ISendHandler> Send => _send.Value;

    public IChannelAuthorizer[] Authorizers => _authorizers.Value;
}
